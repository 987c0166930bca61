package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// connectOptions are the parsed arguments of "tether connect".
type connectOptions struct {
	url          string
	send         string
	sendSet      bool
	header       http.Header
	subprotocols []string
	timeout      time.Duration
}

func runConnect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if isSocketIO(args) {
		return runConnectSIO(ctx, args, stdin, stdout, stderr)
	}
	opts, done, code := parseConnectArgs(args, stdout, stderr)
	if done {
		return code
	}
	if err := checkURL(opts.url); err != nil {
		fmt.Fprintf(stderr, "tether connect: %v\n", err)
		return 1
	}

	dctx, cancel := context.WithTimeout(ctx, opts.timeout)
	conn, _, err := websocket.Dial(dctx, opts.url, &websocket.DialOptions{
		Header:       opts.header,
		Subprotocols: opts.subprotocols,
		ReadLimit:    defaultReadLimit,
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted while connecting
		}
		fmt.Fprintf(stderr, "tether connect: %s\n", dialErrorText(opts, err))
		return 1
	}
	defer conn.CloseNow()

	if opts.sendSet {
		return sendOnce(ctx, conn, opts, stdout, stderr)
	}
	return interactive(ctx, conn, opts.timeout, stdin, stdout, stderr)
}

// parseConnectArgs parses flags given before and after the URL: the flag
// package stops at the first non-flag argument, so parsing resumes after it.
func parseConnectArgs(args []string, stdout, stderr io.Writer) (opts connectOptions, done bool, code int) {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	var headers, subprotocols stringList
	send := fs.String("send", "", "send this `text` message, print the first reply and exit")
	fs.Var(&headers, "header", "add an HTTP `header` ('Name: value') to the handshake request (repeatable)")
	fs.Var(&subprotocols, "subprotocol", "offer this `subprotocol` (repeatable)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for the handshake, for the reply with --send, and for the last replies at the end of stdin")
	fs.Usage = usageFunc(fs, "tether connect URL [flags]",
		"Connects to the WebSocket server at URL (ws:// or wss://). Each line read from stdin\n"+
			"is sent as a text message; each message received is printed on its own line.\n"+
			"At the end of stdin the connection is closed normally (1000).\n"+
			"An http:// or https:// URL, or --socketio, speaks Socket.IO: see tether connect --socketio -h.")

	positional, done, code := parseInterspersed(fs, args, stdout, stderr)
	if done {
		return opts, true, code
	}
	switch len(positional) {
	case 0:
		fmt.Fprintln(stderr, "tether connect: missing URL (e.g. tether connect ws://127.0.0.1:8765)")
		return opts, true, 2
	case 1:
	default:
		fmt.Fprintf(stderr, "tether connect: unexpected argument %q after the URL\n", positional[1])
		return opts, true, 2
	}

	opts = connectOptions{url: positional[0], send: *send, header: http.Header{}, subprotocols: subprotocols, timeout: *timeout}
	fs.Visit(func(f *flag.Flag) { opts.sendSet = opts.sendSet || f.Name == "send" })
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			fmt.Fprintf(stderr, "tether connect: bad header %q: want 'Name: value'\n", h)
			return opts, true, 2
		}
		opts.header.Add(name, strings.TrimSpace(value))
	}
	if opts.timeout <= 0 {
		fmt.Fprintln(stderr, "tether connect: --timeout must be positive")
		return opts, true, 2
	}
	return opts, false, 0
}

// checkURL accepts only WebSocket URLs: http:// and https:// ones went to
// the Socket.IO mode.
func checkURL(raw string) error {
	if !strings.Contains(raw, "://") {
		return fmt.Errorf("bad URL %q: the scheme must be ws:// or wss:// (WebSocket), or http:// or https:// (Socket.IO)", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	default:
		return fmt.Errorf("bad URL %q: the scheme must be ws:// or wss:// (WebSocket), or http:// or https:// (Socket.IO)", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", raw)
	}
	return nil
}

// dialErrorText turns a Dial error into one line a user can act on.
func dialErrorText(opts connectOptions, err error) string {
	var he *websocket.HandshakeError
	if errors.As(err, &he) {
		msg := "handshake failed"
		if he.Status != "" {
			msg += ": HTTP " + he.Status
		}
		if body := oneLine(he.Body, 200); body != "" {
			msg += ": " + body
		}
		if he.Reason != "" {
			msg += " (" + he.Reason + ")"
		}
		return msg
	}
	host := hostPort(opts.url)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("cannot connect to %s: no answer within %v", host, opts.timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to %s: connection refused", host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("cannot connect to %s: unknown host %s", host, dnsErr.Name)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Sprintf("cannot connect to %s: %v", host, opErr.Err)
	}
	return fmt.Sprintf("cannot connect to %s: %v", host, err)
}

// hostPort returns the host:port a ws:// or wss:// URL dials.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// oneLine returns b as a single trimmed line of at most max bytes.
func oneLine(b []byte, max int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// sendOnce implements --send: one message out, the first reply printed.
func sendOnce(ctx context.Context, conn *websocket.Conn, opts connectOptions, stdout, stderr io.Writer) int {
	rctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	err := conn.Write(rctx, websocket.MessageText, []byte(opts.send))
	if err == nil {
		var typ websocket.MessageType
		var msg []byte
		if typ, msg, err = conn.Read(rctx); err == nil {
			printMessage(stdout, typ, msg)
			conn.Close(websocket.StatusNormalClosure, "")
			return 0
		}
	}
	if ctx.Err() == nil && rctx.Err() != nil {
		fmt.Fprintf(stderr, "tether connect: no reply within %v\n", opts.timeout)
		return 1
	}
	return reportEnd(ctx, err, stderr)
}

// interactive sends each stdin line as a text message and prints every
// message received, until stdin ends, the server closes or ctx is done.
// At the end of stdin it waits (at most timeout) for a pong before closing.
func interactive(ctx context.Context, conn *websocket.Conn, timeout time.Duration, stdin io.Reader, stdout, stderr io.Writer) int {
	readErr := make(chan error, 1)
	go func() {
		// The only goroutine that writes to stdout.
		for {
			typ, msg, err := conn.Read(context.Background())
			if err != nil {
				readErr <- err
				return
			}
			printMessage(stdout, typ, msg)
		}
	}()

	stop := make(chan struct{})
	defer close(stop)
	lines, stdinErr := readLines(stdin, stop)

	for {
		select {
		case line := <-lines:
			if err := conn.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				// The reader reports why the connection ended.
				return reportEnd(ctx, <-readErr, stderr)
			}
		case err := <-stdinErr:
			code := 0
			if err != nil {
				fmt.Fprintf(stderr, "tether connect: reading stdin: %v\n", err)
				code = 1
			}
			// Close discards messages that arrive while the reader is between
			// two reads, so first let the replies to what was sent arrive: a
			// server answering in order sends them before its pong.
			pctx, cancel := context.WithTimeout(ctx, timeout)
			perr := conn.Ping(pctx)
			cancel()
			conn.Close(websocket.StatusNormalClosure, "")
			rerr := <-readErr
			if perr != nil {
				// The server closed first, or does not answer pings.
				return reportEnd(ctx, rerr, stderr)
			}
			return code
		case err := <-readErr:
			return reportEnd(ctx, err, stderr)
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			<-readErr
			return 0
		}
	}
}

// reportEnd prints why the connection ended and returns the exit code:
// 0 for a normal close by the server or an interrupt (ctx done), 1 otherwise.
func reportEnd(ctx context.Context, err error, stderr io.Writer) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && !ce.Local {
		if ce.Reason == "" {
			fmt.Fprintf(stderr, "closed: %d\n", int(ce.Code))
		} else {
			fmt.Fprintf(stderr, "closed: %d %s\n", int(ce.Code), ce.Reason)
		}
		if ce.Code == websocket.StatusNormalClosure {
			return 0
		}
		return 1
	}
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintf(stderr, "tether connect: %v\n", err)
	return 1
}

// printMessage prints a text message as is and a binary one as a summary:
// its length and the hex of its first bytes.
func printMessage(w io.Writer, typ websocket.MessageType, msg []byte) {
	if typ == websocket.MessageText {
		fmt.Fprintf(w, "%s\n", msg)
		return
	}
	const show = 16
	if len(msg) <= show {
		fmt.Fprintf(w, "<binary %d bytes: %s>\n", len(msg), hex.EncodeToString(msg))
		return
	}
	fmt.Fprintf(w, "<binary %d bytes: %s…>\n", len(msg), hex.EncodeToString(msg[:show]))
}

// readLines reads r line by line on a goroutine of its own, because a read from
// stdin cannot be interrupted: it ends at the end of r (sending the read error,
// nil at EOF, on the second channel), when stop is closed, or when the process
// exits.
func readLines(r io.Reader, stop <-chan struct{}) (<-chan string, <-chan error) {
	lines := make(chan string)
	end := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), defaultReadLimit)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
		end <- sc.Err()
	}()
	return lines, end
}
