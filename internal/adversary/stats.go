//go:build linux

package adversary

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Sample is one reading of the server's figures: /debug/stats, plus what /proc says of the
// process.
type Sample struct {
	Goroutines int    `json:"goroutines"`
	HeapLive   uint64 `json:"heap_live"` // live bytes at the last GC
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapGoal   uint64 `json:"heap_goal"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	NumGC      uint32 `json:"num_gc"`
	Sockets    int    `json:"sockets"` // connected Socket.IO sockets

	RSS uint64 `json:"-"` // VmRSS, bytes
	FDs int    `json:"-"` // entries of /proc/PID/fd
}

// Sample reads the server's figures.
func (s *Server) Sample(ctx context.Context) (Sample, error) {
	var st Sample
	body, err := s.debugGet(ctx, "/debug/stats")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("/debug/stats: %v: %q", err, body)
	}
	if st.RSS, err = readRSS(s.PID); err != nil {
		return st, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.PID))
	if err != nil {
		return st, err
	}
	st.FDs = len(fds)
	return st, nil
}

// SettledSample forces a GC and then reads the figures, so that heap_live is current.
func (s *Server) SettledSample(ctx context.Context) (Sample, error) {
	if err := s.ForceGC(ctx); err != nil {
		return Sample{}, err
	}
	return s.Sample(ctx)
}

// readRSS returns VmRSS of process pid, in bytes.
func readRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "1234 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
}

// peerPorts returns the remote ports of the TCP connections process pid holds whose local
// port is localPort: the clients connected to that listener. It matches the socket inodes
// of /proc/PID/fd with the process's view of /proc/net/tcp.
func peerPorts(pid, localPort int) (map[int]bool, error) {
	inodes := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			if table == "tcp6" {
				continue // no IPv6 on this machine
			}
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			f := strings.Fields(sc.Text())
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if hexPort(f[1]) == localPort {
				ports[hexPort(f[2])] = true
			}
		}
	}
	return ports, nil
}

// hexPort returns the port of a /proc/net/tcp address, "0100007F:1F90", or -1.
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// portOf returns the port of a host:port, or -1.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	return n
}

// Peak keeps the highest value of each figure over a run of samples.
type Peak struct {
	Sample
	Samples int
}

// Add takes one sample into the peak.
func (p *Peak) Add(s Sample) {
	p.Samples++
	p.Goroutines = max(p.Goroutines, s.Goroutines)
	p.HeapLive = max(p.HeapLive, s.HeapLive)
	p.HeapAlloc = max(p.HeapAlloc, s.HeapAlloc)
	p.HeapInuse = max(p.HeapInuse, s.HeapInuse)
	p.StackInuse = max(p.StackInuse, s.StackInuse)
	p.Sys = max(p.Sys, s.Sys)
	p.Sockets = max(p.Sockets, s.Sockets)
	p.RSS = max(p.RSS, s.RSS)
	p.FDs = max(p.FDs, s.FDs)
}

// MiB formats a byte count in MiB.
func MiB(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// growth formats b-a in MiB, signed.
func growth(a, b uint64) string {
	return fmt.Sprintf("%+.1f MiB", (float64(b)-float64(a))/(1<<20))
}
