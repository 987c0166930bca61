//go:build linux

package adversary

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// slowReader connects a WebSocket client with a 4 KiB receive buffer, joins "/", sends 60
// events of 100,000 bytes and 1,100 small ones (each answered with message-back), and never
// reads. The server must end the session and let go of the connection, its goroutines and
// its descriptor, although the client keeps the TCP connection open until the leak check.
func slowReader(ctx context.Context, tg *Target) (string, error) {
	c, err := tg.DialSmallRcvbuf(ctx, 4096)
	if err != nil {
		return "", err
	}
	ws, err := Handshake(ctx, c, sioPath)
	if err != nil {
		return "", err
	}
	if f, err := ws.ReadFrame(64 << 10); err != nil || f.Op != OpText || !strings.HasPrefix(string(f.Payload), "0{") {
		return "", fmt.Errorf("no open packet: %q %v", f.Payload, err)
	}
	// Writes stop when the server stops reading; none may block the attack for long.
	ws.SetWriteTimeout(10 * time.Second)
	big := `42["message","` + strings.Repeat("x", 100_000) + `"]`
	const total = 1 + 60 + 1100
	sent := 0
	var werr error
	for i := 0; i < total && werr == nil && ctx.Err() == nil; i++ {
		switch {
		case i == 0:
			werr = ws.WriteText("40")
		case i <= 60:
			werr = ws.WriteText(big)
		default:
			werr = ws.WriteText(`42["message","y"]`)
		}
		if werr == nil {
			sent++
		}
	}
	wrote := fmt.Sprintf("%d of %d frames written", sent, total)
	if werr != nil {
		wrote += fmt.Sprintf(" (then %v)", shortErr(werr))
	}
	// The connection stays open: the suite closes it after the leak check.
	took, err := tg.WaitReleased(ctx, SlowReaderBound)
	if err != nil {
		return wrote, fmt.Errorf("a client that stopped reading (%s): %v", wrote, err)
	}
	return fmt.Sprintf("%s; the server let go of the connection after %v", wrote, took.Round(100*time.Millisecond)), nil
}

// idleFlood opens IdleConns keep-alive connections, sends one complete request on each and
// leaves it idle. The server must close them all within IdleBound (its idle timeout).
func idleFlood(ctx context.Context, tg *Target) (string, error) {
	n := tg.Mode.IdleConns
	bound := tg.Mode.IdleBound
	req := "GET /nothing HTTP/1.1\r\nHost: " + tg.Addr + "\r\nConnection: keep-alive\r\n\r\n"
	var mu sync.Mutex
	var closedAfter []time.Duration
	var failed []error
	var stillOpen int
	dialing := make(chan struct{}, 50) // connections being set up at once
	var wg sync.WaitGroup
	for range n {
		select {
		case dialing <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		wg.Go(func() {
			idle, br, err := requestThenIdle(ctx, tg, req)
			<-dialing
			if err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				return
			}
			closed, after := waitServerClose(ctx, idle, br, bound)
			mu.Lock()
			if closed {
				closedAfter = append(closedAfter, after)
			} else {
				stillOpen++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	out := fmt.Sprintf("%d of %d idle connections closed by the server", len(closedAfter), n)
	if len(closedAfter) > 0 {
		lo, hi := spread(closedAfter)
		out += fmt.Sprintf(" after %v–%v idle", lo, hi)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d requests failed before going idle, first: %v", len(failed), n, failed[0])
	}
	if stillOpen > 0 {
		return out, fmt.Errorf("the server kept %d of %d idle keep-alive connections open for %v (IdleBound): it has no idle timeout, or a longer one",
			stillOpen, n, bound)
	}
	return out, nil
}

// requestThenIdle dials, sends req, reads the whole answer (a 404) and returns the
// connection, now idle, with its reader.
func requestThenIdle(ctx context.Context, tg *Target, req string) (net.Conn, *bufio.Reader, error) {
	c, err := tg.Dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusNotFound || resp.Close {
		return nil, nil, fmt.Errorf("GET /nothing answered %s (close: %v), want 404 on a kept-alive connection", resp.Status, resp.Close)
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// waitServerClose waits up to bound for the server to close c (or to send anything at all),
// and says whether it did and after how long.
func waitServerClose(ctx context.Context, c net.Conn, br *bufio.Reader, bound time.Duration) (bool, time.Duration) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(bound))
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, 0
	}
	return true, time.Since(start).Round(100 * time.Millisecond)
}

// slowPost opens SlowPosts polling sessions and, on a connection of its own for each, sends a
// POST declaring 1,000 bytes of body and trickles them a byte every 2 s. The server must give
// up on every one within BodyBound.
func slowPost(ctx context.Context, tg *Target) (string, error) {
	hc := tg.HTTPClient(4)
	n := tg.Mode.SlowPosts
	var mu sync.Mutex
	var after []time.Duration
	var answers []string
	var failed []error
	kept := 0
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := slowPostOne(ctx, tg, hc)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = append(failed, err)
			case res.dropped:
				after = append(after, res.after)
				if res.answer != "" {
					answers = append(answers, res.answer)
				}
			default:
				kept++
			}
		})
	}
	wg.Wait()
	out := fmt.Sprintf("%d of %d slow bodies dropped", len(after), n)
	if len(after) > 0 {
		lo, hi := spread(after)
		out += fmt.Sprintf(" after %v–%v", lo, hi)
	}
	if len(answers) > 0 {
		out += fmt.Sprintf(" (answer: %s)", answers[0])
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d slow POSTs could not start, first: %v", len(failed), n, failed[0])
	}
	if kept > 0 {
		return out, fmt.Errorf("the server was still reading %d of %d POST bodies trickling in a byte every 2 s after %v (BodyBound): it has no body timeout, or a longer one",
			kept, n, tg.Mode.BodyBound)
	}
	return out, nil
}

func slowPostOne(ctx context.Context, tg *Target, hc *http.Client) (trickled, error) {
	p, err := OpenPoll(ctx, tg, hc)
	if err != nil {
		return trickled{}, err
	}
	c, err := tg.Dial(ctx)
	if err != nil {
		return trickled{}, err
	}
	head := "POST " + pollPath + "&sid=" + p.SID + " HTTP/1.1\r\nHost: " + tg.Addr +
		"\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\n"
	return trickle(ctx, c, head, "4", 2*time.Second, tg.Mode.BodyBound), nil
}

// slowloris sends Slowloris requests whose headers come a byte a second. The server must
// drop every one within HeaderBound (its ReadHeaderTimeout).
func slowloris(ctx context.Context, tg *Target) (string, error) {
	n := tg.Mode.Slowloris
	var mu sync.Mutex
	var after []time.Duration
	kept := 0
	var failed []error
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := tg.Dial(ctx)
			if err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				return
			}
			head := "GET " + pollPath + " HTTP/1.1\r\nHost: " + tg.Addr + "\r\nX-Slow: "
			res := trickle(ctx, c, head, "a", time.Second, tg.Mode.HeaderBound)
			mu.Lock()
			defer mu.Unlock()
			if res.dropped {
				after = append(after, res.after)
			} else {
				kept++
			}
		})
	}
	wg.Wait()
	out := fmt.Sprintf("%d of %d dropped", len(after), n)
	if len(after) > 0 {
		lo, hi := spread(after)
		out += fmt.Sprintf(" after %v–%v", lo, hi)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d of %d connections failed, first: %v", len(failed), n, failed[0])
	}
	if kept > 0 {
		return out, fmt.Errorf("the server still waited for the headers of %d of %d requests after %v (HeaderBound)", kept, n, tg.Mode.HeaderBound)
	}
	return out, nil
}

// trickled is what came of a trickle.
type trickled struct {
	dropped bool          // the server answered or closed the connection
	after   time.Duration // how long after the head that happened
	answer  string        // the status line, if it answered
}

// trickle writes head on c, then one byte of unit every `every`, until the server answers or
// closes the connection (dropped) or bound has passed since the head. The connection is left
// open either way.
func trickle(ctx context.Context, c net.Conn, head, unit string, every, bound time.Duration) trickled {
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(bound + 10*time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		return trickled{dropped: true}
	}
	gone := make(chan string, 1)
	go func() {
		_ = c.SetReadDeadline(start.Add(bound + 10*time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && line == "" {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // the bound passed, or the suite is closing the connection
			}
			gone <- ""
			return
		}
		gone <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		select {
		case line := <-gone:
			return trickled{dropped: true, after: time.Since(start).Round(100 * time.Millisecond), answer: line}
		case <-deadline.C:
			return trickled{}
		case <-ctx.Done():
			return trickled{}
		case <-tick.C:
			if _, err := io.WriteString(c, unit); err != nil {
				// A reset or a closed pipe: the server dropped the connection.
				return trickled{dropped: true, after: time.Since(start).Round(100 * time.Millisecond)}
			}
		}
	}
}

// spread returns the smallest and largest of ds.
func spread(ds []time.Duration) (lo, hi time.Duration) {
	lo, hi = ds[0], ds[0]
	for _, d := range ds {
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo, hi
}

// shortErr returns err's message, cut to one line of at most 120 bytes.
func shortErr(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
