//go:build linux

package adversary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connectionFlood opens FloodConns connections and drops them at once, half of them with a
// reset, then FloodConns/5 more that send half a request first. The server must keep
// accepting and let go of every one.
func connectionFlood(ctx context.Context, tg *Target) (string, error) {
	n := tg.Mode.FloodConns
	partial := "GET " + pollPath + " HTTP/1.1\r\nHost: " + tg.Addr + "\r\n"
	var dialErrs atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for i := range n + n/5 {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := tg.Dial(ctx)
			if err != nil {
				dialErrs.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			if i >= n {
				_, _ = io.WriteString(c, partial)
			}
			if i%2 == 0 {
				_ = c.(*net.TCPConn).SetLinger(0) // a reset rather than a FIN
			}
			_ = c.Close()
		})
	}
	wg.Wait()
	out := fmt.Sprintf("%d connections opened and dropped", n+n/5-int(dialErrs.Load()))
	if d := dialErrs.Load(); d > 0 {
		return out, fmt.Errorf("%d of %d connections could not be opened, first: %v", d, n+n/5, firstErr.Load())
	}
	took, err := tg.WaitReleased(ctx, 15*time.Second)
	if err != nil {
		return out, err
	}
	return fmt.Sprintf("%s; all released after %v", out, took.Round(100*time.Millisecond)), nil
}

// abandonedHandshakes starts handshakes of four kinds and leaves them: a bare TCP connection,
// half a request, a complete WebSocket upgrade whose client never reads or joins a
// namespace, and a polling handshake that is never followed up. The server must let go of
// every connection (header timeout, connect timeout, heartbeat) within HeaderBound, while the
// clients keep their sockets open.
func abandonedHandshakes(ctx context.Context, tg *Target) (string, error) {
	kinds := []struct {
		name string
		send string
	}{
		{"TCP connect only", ""},
		{"half a request", "GET " + sioPath + " HTTP/1.1\r\nHost: " + tg.Addr + "\r\n"},
		{"WebSocket upgrade, then nothing", UpgradeRequest(tg.Addr, sioPath, "")},
		{"polling handshake, then nothing", "GET " + pollPath + " HTTP/1.1\r\nHost: " + tg.Addr + "\r\nConnection: close\r\n\r\n"},
	}
	for _, k := range kinds {
		for range tg.Mode.Abandoned {
			c, err := tg.Dial(ctx)
			if err != nil {
				return "", fmt.Errorf("%s: %w", k.name, err)
			}
			if k.send != "" {
				if _, err := io.WriteString(c, k.send); err != nil {
					return "", fmt.Errorf("%s: %w", k.name, err)
				}
			}
		}
	}
	total := len(kinds) * tg.Mode.Abandoned
	took, err := tg.WaitReleased(ctx, tg.Mode.HeaderBound)
	if err != nil {
		return fmt.Sprintf("%d handshakes abandoned", total), err
	}
	return fmt.Sprintf("%d handshakes abandoned; all released after %v", total, took.Round(100*time.Millisecond)), nil
}

// sidCase is one misuse of a session id and what the server must answer.
type sidCase struct {
	name string
	run  func(ctx context.Context, tg *Target, hc *http.Client) error
}

var sidCases = []sidCase{
	{"unknown sid, polling GET", func(ctx context.Context, tg *Target, hc *http.Client) error {
		return expectStatus(ctx, hc, http.MethodGet, tg.URL(pollPath+"&sid=nope"), nil, 400, `"code":1`)
	}},
	{"unknown sid, polling POST", func(ctx context.Context, tg *Target, hc *http.Client) error {
		return expectStatus(ctx, hc, http.MethodPost, tg.URL(pollPath+"&sid=nope"), []byte("40"), 400, `"code":1`)
	}},
	{"unknown sid, WebSocket upgrade", func(ctx context.Context, tg *Target, _ *http.Client) error {
		return expectRefusedUpgrade(ctx, tg, sioPath+"&sid=nope")
	}},
	{"10 KB sid", func(ctx context.Context, tg *Target, hc *http.Client) error {
		return expectStatus(ctx, hc, http.MethodGet, tg.URL(pollPath+"&sid="+strings.Repeat("a", 10<<10)), nil, 400, "")
	}},
	{"sid with NUL and invalid UTF-8", func(ctx context.Context, tg *Target, hc *http.Client) error {
		return expectStatus(ctx, hc, http.MethodGet, tg.URL(pollPath+"&sid=%00%ff%fe"), nil, 400, "")
	}},
	{"/engine.io/ sid on /socket.io/", func(ctx context.Context, tg *Target, hc *http.Client) error {
		status, body, err := do(ctx, hc, http.MethodGet, tg.URL("/engine.io/?EIO=4&transport=polling"), nil)
		if err != nil || status != 200 || !strings.HasPrefix(string(body), `0{"sid":"`) {
			return fmt.Errorf("/engine.io/ handshake: %d %q %v", status, clip(body, 100), err)
		}
		sid, _, _ := strings.Cut(strings.TrimPrefix(string(body), `0{"sid":"`), `"`)
		return expectStatus(ctx, hc, http.MethodGet, tg.URL(pollPath+"&sid="+sid), nil, 400, `"code":1`)
	}},
	{"WebSocket session's sid on polling GET and POST", func(ctx context.Context, tg *Target, hc *http.Client) error {
		ws, err := tg.DialSIO(ctx, "websocket-session", nil)
		if err != nil {
			return err
		}
		defer ws.Close()
		ws.StartAcks(ControlEvery, ControlAckBound)
		u := tg.URL(pollPath + "&sid=" + ws.SID)
		if err := expectStatus(ctx, hc, http.MethodGet, u, nil, 400, ""); err != nil {
			return err
		}
		if err := expectStatus(ctx, hc, http.MethodPost, u, []byte(`42["message","x"]`), 400, ""); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := ws.WaitAcks(wctx, 3); err != nil {
			return fmt.Errorf("the WebSocket session whose sid was misused: %w", err)
		}
		return nil
	}},
	{"overlapping GETs", func(ctx context.Context, tg *Target, hc *http.Client) error {
		p, err := OpenPoll(ctx, tg, hc)
		if err != nil {
			return err
		}
		first := make(chan error, 1)
		go func() {
			_, _, err := p.Get(ctx)
			first <- err
		}()
		time.Sleep(200 * time.Millisecond) // the first GET is waiting
		if err := expectStatus(ctx, hc, http.MethodGet, p.url, nil, 400, ""); err != nil {
			return fmt.Errorf("second GET: %w", err)
		}
		select {
		case err := <-first:
			if err != nil {
				return fmt.Errorf("the first GET: %w", err)
			}
		case <-time.After(5 * time.Second):
			return errors.New("the first GET was not answered within 5s of the overlapping one")
		}
		return expectStatus(ctx, hc, http.MethodGet, p.url, nil, 400, "")
	}},
	{"two upgrades of one polling session", func(ctx context.Context, tg *Target, hc *http.Client) error {
		p, err := OpenPoll(ctx, tg, hc)
		if err != nil {
			return err
		}
		if _, err := tg.DialWS(ctx, sioPath+"&sid="+p.SID); err != nil {
			return fmt.Errorf("first upgrade: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
		// As Node's engine.io (and the official protocol suite) has it: the second WebSocket
		// opens and is closed at once, the session untouched.
		ws, err := tg.DialWS(ctx, sioPath+"&sid="+p.SID)
		if err != nil {
			return fmt.Errorf("second upgrade: %v, want it opened and then closed", err)
		}
		defer ws.Conn.Close()
		code, _, err := ws.ReadUntilClose(ctx)
		if err != nil {
			return fmt.Errorf("second upgrade: %w", err)
		}
		if code == 1006 {
			return errors.New("second upgrade: the connection ended without a close frame")
		}
		return nil
	}},
	{"sid of a session the client closed", func(ctx context.Context, tg *Target, hc *http.Client) error {
		p, err := OpenPoll(ctx, tg, hc)
		if err != nil {
			return err
		}
		if status, body, err := p.Post(ctx, []byte("1")); err != nil || status != 200 {
			return fmt.Errorf("POST close packet: %d %q %v", status, body, err)
		}
		// A poll right after the close gets the noop (it may have been sent with the close),
		// and the session is gone after it.
		if err := expectStatus(ctx, hc, http.MethodGet, p.url, nil, 200, "6"); err != nil {
			return fmt.Errorf("poll right after the close: %w", err)
		}
		return expectStatus(ctx, hc, http.MethodGet, p.url, nil, 400, "")
	}},
	{"transport=websocket without the upgrade headers", func(ctx context.Context, tg *Target, hc *http.Client) error {
		p, err := OpenPoll(ctx, tg, hc)
		if err != nil {
			return err
		}
		return expectStatus(ctx, hc, http.MethodGet, tg.URL(sioPath+"&sid="+p.SID), nil, 400, "")
	}},
}

// sidMisuse runs every sidCase.
func sidMisuse(ctx context.Context, tg *Target) (string, error) {
	hc := tg.HTTPClient(4)
	var errs []error
	for _, c := range sidCases {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := c.run(cctx, tg, hc); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
		cancel()
	}
	out := fmt.Sprintf("%d of %d cases answered as expected", len(sidCases)-len(errs), len(sidCases))
	return out, errors.Join(errs...)
}

// expectStatus sends a request and checks the status and that the body contains want.
func expectStatus(ctx context.Context, hc *http.Client, method, u string, body []byte, status int, want string) error {
	got, b, err := do(ctx, hc, method, u, body)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if got != status || !strings.Contains(string(b), want) {
		return fmt.Errorf("%s answered %d %q, want %d with %q", method, got, clip(b, 120), status, want)
	}
	return nil
}

// expectRefusedUpgrade tries a WebSocket upgrade on path and checks that it is refused with
// 400.
func expectRefusedUpgrade(ctx context.Context, tg *Target, path string) error {
	ws, err := tg.DialWS(ctx, path)
	if err == nil {
		ws.Conn.Close()
		return errors.New("the upgrade was accepted (101), want 400")
	}
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 400 {
		return fmt.Errorf("upgrade: %v, want a 400", err)
	}
	return nil
}
