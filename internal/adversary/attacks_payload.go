//go:build linux

package adversary

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// invalidUTF8Polling sends, over polling, a broadcast whose string holds the bytes FF FE,
// which are not UTF-8. A WebSocket client on "/" must then receive broadcast-back as valid
// UTF-8, with U+FFFD for each bad byte as Node does, or nothing at all; never an invalid text
// frame (which a browser answers by closing the connection), and never a disconnect.
func invalidUTF8Polling(ctx context.Context, tg *Target) (string, error) {
	got := make(chan []byte, 4)
	obs, err := tg.DialSIO(ctx, "observer", func(p []byte) {
		if bytes.HasPrefix(p, []byte(`["broadcast-back",`)) {
			select {
			case got <- bytes.Clone(p):
			default:
			}
		}
	})
	if err != nil {
		return "", err
	}
	defer obs.Close()
	hc := tg.HTTPClient(2)
	p, err := OpenPoll(ctx, tg, hc)
	if err != nil {
		return "", err
	}
	if status, body, err := p.Post(ctx, []byte("40")); err != nil || status != 200 {
		return "", fmt.Errorf("POST 40: %d %q %v", status, body, err)
	}
	status, body, err := p.Post(ctx, []byte("42[\"broadcast\",\"\xff\xfe invalid\"]"))
	if err != nil {
		return "", fmt.Errorf("POST of the invalid broadcast: %w", err)
	}
	out := fmt.Sprintf("POST answered %d %q", status, clip(body, 40))
	var frame []byte
	select {
	case frame = <-got:
	case <-time.After(3 * time.Second):
	}
	time.Sleep(200 * time.Millisecond) // anything else the observer gets
	if fails := obs.Failures(); len(fails) > 0 {
		return out, fmt.Errorf("the observer on / was hurt: %s", strings.Join(fails, "; "))
	}
	if frame == nil {
		return out + "; no broadcast-back", nil
	}
	var args []string
	if err := json.Unmarshal(frame, &args); err != nil || len(args) != 2 {
		return out, fmt.Errorf("broadcast-back %q: %v", clip(frame, 80), err)
	}
	const want = "\uFFFD\uFFFD invalid"
	if args[1] != want {
		return out, fmt.Errorf("broadcast-back carried %q, want %q (U+FFFD for each bad byte, as Node)", args[1], want)
	}
	return out + fmt.Sprintf("; broadcast-back carried %q", args[1]), nil
}

// headerPadBytes is the size of the extra headers of headerAmplification: just under Go's
// default limit (1 MiB + 4 KiB), so that only a server that sets a smaller one refuses them.
const headerPadBytes = 976 * 1024

// HeaderHeapBound is how much heap_inuse may grow while headerAmplification runs: a server
// that refuses the headers reads at most its header limit of each (16 KiB, plus buffers), so
// 50 handshakes cost it about a megabyte; 16 MiB leaves room for the GC's pace.
const HeaderHeapBound = 16 << 20

// headerAmplification sends HeaderFloods WebSocket handshakes at once, each with about 1 MB
// of extra headers. Each must be refused (431, or the connection closed), and the server's
// heap must not grow by more than HeaderHeapBound.
func headerAmplification(ctx context.Context, tg *Target) (string, error) {
	var pad strings.Builder
	for i := range headerPadBytes / 1024 {
		fmt.Fprintf(&pad, "X-Pad-%04d: %s\r\n", i, strings.Repeat("a", 1024-14))
	}
	req := UpgradeRequest(tg.Addr, sioPath, pad.String())
	n := tg.Mode.HeaderFloods
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			what := headerFlood(ctx, tg, req)
			mu.Lock()
			counts[what]++
			mu.Unlock()
		})
	}
	wg.Wait()
	s, _ := tg.Sample(ctx) // while the accepted ones, if any, are still open
	peak := tg.Peak()
	grew := int64(peak.HeapInuse) - int64(tg.Base().HeapInuse)
	out := fmt.Sprintf("answers %v; peak heap_inuse %s (%+.1f MiB), RSS %s", counts, MiB(peak.HeapInuse), float64(grew)/(1<<20), MiB(max(peak.RSS, s.RSS)))
	var errs []error
	if a := counts["101 accepted"]; a > 0 {
		errs = append(errs, fmt.Errorf("%d of %d handshakes with %d bytes of headers were accepted (101): the server reads and keeps headers of up to Go's default 1 MiB", a, n, headerPadBytes))
	}
	if grew > HeaderHeapBound {
		errs = append(errs, fmt.Errorf("heap_inuse grew by %.1f MiB during the attack, more than %s", float64(grew)/(1<<20), MiB(HeaderHeapBound)))
	}
	return out, errors.Join(errs...)
}

// headerFlood sends one oversized handshake and says how it was answered.
func headerFlood(ctx context.Context, tg *Target, req string) string {
	c, err := tg.Dial(ctx)
	if err != nil {
		return "dial error"
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }() // the server may stop reading: the reset ends it
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodGet})
	if err != nil {
		return "connection closed"
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return "101 accepted" // left open until the suite closes it
	}
	if resp.Close {
		return fmt.Sprintf("%d refused, connection closed", resp.StatusCode)
	}
	return fmt.Sprintf("%d refused, connection kept", resp.StatusCode) // kept: the leak check sees if it lingers
}

// jsonArrayLen is how many numbers the array of largeJSONArrays holds.
const jsonArrayLen = 400_000

// jsonArrayEvent returns the event of largeJSONArrays: 42["message",[1,1,…]], under the
// 1,000,000-byte limit.
func jsonArrayEvent() string {
	return `42["message",[` + strings.Repeat("1,", jsonArrayLen-1) + `1]]`
}

// JSONGrowthFactor bounds how much the server's heap in use and RSS may grow while it
// handles largeJSONArrays, as a multiple of all the bytes sent: the server may hold each
// event, its parsed form and its answer at once, but not a boxed value per number (16 to 24
// bytes for each 2-byte "1,").
const JSONGrowthFactor = 8

// largeJSONArrays connects JSONConns clients, then has each send at once one event whose
// argument is an array of 400,000 numbers, and read the answer (message-back). The peak growth
// of heap_inuse and RSS must stay under JSONGrowthFactor × the bytes sent.
func largeJSONArrays(ctx context.Context, tg *Target) (string, error) {
	return jsonFlood(ctx, tg, tg.Mode.JSONConns, jsonArrayEvent())
}

// manyJSONArguments is largeJSONArrays with the 400,000 numbers as as many arguments of the
// event, which the server splits into one value each, on JSONArgsConns clients.
func manyJSONArguments(ctx context.Context, tg *Target) (string, error) {
	return jsonFlood(ctx, tg, tg.Mode.JSONArgsConns, jsonArgsEvent())
}

// jsonArgsEvent returns the event of manyJSONArguments: 42["message",1,1,…].
func jsonArgsEvent() string {
	return `42["message",` + strings.Repeat("1,", jsonArrayLen-1) + `1]`
}

// jsonFlood connects n clients, then has each send ev at once and read its message-back.
func jsonFlood(ctx context.Context, tg *Target, n int, ev string) (string, error) {
	clients := make([]*SIOClient, n)
	backs := make([]chan int, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		back := make(chan int, 1)
		c, err := tg.DialSIO(ctx, fmt.Sprintf("json-%d", i), func(p []byte) {
			if bytes.HasPrefix(p, []byte(`["message-back",`)) {
				select {
				case back <- len(p):
				default:
				}
			}
		})
		if err != nil {
			return "", err
		}
		c.ws.SetWriteTimeout(30 * time.Second)
		clients[i], backs[i] = c, back
	}
	var mu sync.Mutex
	var errs []error
	answered, dropped := 0, 0
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			ok, err := jsonArrayOne(ctx, c, backs[i], ev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				answered++
			default:
				dropped++
			}
		})
	}
	wg.Wait()
	_, _ = tg.Sample(ctx)
	peak, base := tg.Peak(), tg.Base()
	total := uint64(n * len(ev))
	heap := int64(peak.HeapInuse) - int64(base.HeapInuse)
	rss := int64(peak.RSS) - int64(base.RSS)
	out := fmt.Sprintf("%d of %d answered, %d dropped by the server; input %s; peak growth heap_inuse %+.1f MiB (%.1f×), RSS %+.1f MiB (%.1f×)",
		answered, n, dropped, MiB(total), float64(heap)/(1<<20), float64(heap)/float64(total), float64(rss)/(1<<20), float64(rss)/float64(total))
	if len(errs) > 0 {
		errs = errs[:1:1]
		errs[0] = fmt.Errorf("%d of %d clients failed, first: %w", n-answered-dropped, n, errs[0])
	}
	if heap > int64(JSONGrowthFactor*total) {
		errs = append(errs, fmt.Errorf("heap_inuse grew by %.1f MiB, %.1f× the %s sent, more than %d×", float64(heap)/(1<<20), float64(heap)/float64(total), MiB(total), JSONGrowthFactor))
	}
	if rss > int64(JSONGrowthFactor*total) {
		errs = append(errs, fmt.Errorf("RSS grew by %.1f MiB, %.1f× the %s sent, more than %d×", float64(rss)/(1<<20), float64(rss)/float64(total), MiB(total), JSONGrowthFactor))
	}
	return out, errors.Join(errs...)
}

// jsonArrayOne sends ev on c, then message-with-ack, and waits for the ack. Handlers run in
// order, so message-back, if the server answers ev at all, arrives before the ack: answered
// says whether it did. A server may drop an event it will not decode (socketio's
// MaxDecodedValues); it may not disconnect the client for it.
func jsonArrayOne(ctx context.Context, c *SIOClient, back <-chan int, ev string) (answered bool, err error) {
	if err := c.ws.WriteText(ev); err != nil {
		return false, fmt.Errorf("%s: sending the event: %w", c.Name, err)
	}
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.Ask(actx); err != nil {
		return false, fmt.Errorf("%s: no ack for the message-with-ack sent after the event: %w", c.Name, err)
	}
	select {
	case n := <-back:
		if want := len(ev) - 2 + len("-back"); n != want {
			return true, fmt.Errorf("%s: message-back of %d bytes, want %d", c.Name, n, want)
		}
		answered = true
	default:
	}
	if f := c.Failures(); len(f) > 0 {
		return answered, errors.New(strings.Join(f, "; "))
	}
	return answered, nil
}
