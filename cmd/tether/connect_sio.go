package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// isSocketIO reports whether "tether connect" args ask for Socket.IO: the
// --socketio flag, or an http:// or https:// URL (the first argument that
// is neither a flag nor a flag's value).
func isSocketIO(args []string) bool {
	url := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			if url == "" && i+1 < len(args) {
				url = args[i+1]
			}
			i = len(args)
		case !strings.HasPrefix(a, "-") || a == "-":
			if url == "" {
				url = a
			}
		case name == "socketio":
			return !hasValue || strings.HasSuffix(a, "=true")
		case !hasValue && connectValueFlags[name]:
			i++ // the flag's value
		}
	}
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

// connectValueFlags are the flags of both modes of "tether connect" that
// take a value.
var connectValueFlags = map[string]bool{
	"send": true, "header": true, "subprotocol": true, "timeout": true,
	"namespace": true, "auth": true, "transport": true, "emit": true, "wait": true,
	"parser": true,
}

// sioOptions are the parsed arguments of "tether connect" in Socket.IO mode.
type sioOptions struct {
	url        string
	namespace  string
	auth       json.RawMessage
	transports []string
	header     http.Header
	emit       string
	emitSet    bool
	args       []json.RawMessage // the JSON arguments after the URL, for --emit
	ack        bool
	wait       time.Duration
	timeout    time.Duration
	parser     socketio.Parser
}

func parseSIOArgs(args []string, stdout, stderr io.Writer) (opts sioOptions, done bool, code int) {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	var headers stringList
	fs.Bool("socketio", false, "speak Socket.IO (implied by an http:// or https:// URL)")
	namespace := fs.String("namespace", "", "join this `namespace` (default: the URL's path, or /)")
	auth := fs.String("auth", "", "send this JSON `object` as the CONNECT auth payload")
	transport := fs.String("transport", "", "`polling` or websocket only (default: polling upgraded to websocket)")
	emit := fs.String("emit", "", "emit this `event`, with the JSON arguments given after the URL, and exit")
	ack := fs.Bool("ack", false, "with --emit: ask for an acknowledgement, print its arguments and exit")
	wait := fs.Duration("wait", 2*time.Second, "with --emit and no --ack: print the events received for this long; interactive: at the end of stdin, wait this long at most for the acknowledgements")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for connecting and for an acknowledgement with --ack")
	fs.Var(&headers, "header", "add an HTTP `header` ('Name: value') to every request (repeatable)")
	parserName := addParserFlag(fs)
	fs.Usage = usageFunc(fs, "tether connect URL [flags] [JSON…]",
		"Connects to the Socket.IO server at URL (http:// or https://; ws:// or wss:// with\n"+
			"--socketio for WebSocket only) and prints each event received as one line:\n"+
			"the event name, then its arguments as JSON (binary ones as base64 strings).\n\n"+
			"With --emit EVENT, emits EVENT with the JSON arguments after the URL and exits\n"+
			"after --wait, or with --ack once the acknowledgement is printed. Otherwise\n"+
			"each stdin line, 'EVENT [JSON…]', is emitted asking for an acknowledgement,\n"+
			"printed as 'ack EVENT args…' when the server answers.")

	positional, done, code := parseInterspersed(fs, args, stdout, stderr)
	if done {
		return opts, true, code
	}
	if len(positional) == 0 {
		fmt.Fprintln(stderr, "tether connect: missing URL (e.g. tether connect http://127.0.0.1:3000)")
		return opts, true, 2
	}
	opts = sioOptions{url: positional[0], namespace: *namespace, emit: *emit, ack: *ack, wait: *wait, timeout: *timeout, header: http.Header{}}
	fs.Visit(func(f *flag.Flag) { opts.emitSet = opts.emitSet || f.Name == "emit" })
	if !opts.emitSet && len(positional) > 1 {
		fmt.Fprintf(stderr, "tether connect: unexpected argument %q after the URL (JSON arguments go with --emit)\n", positional[1])
		return opts, true, 2
	}
	for _, a := range positional[1:] {
		if !json.Valid([]byte(a)) {
			fmt.Fprintf(stderr, "tether connect: argument %q is not JSON (a string needs quotes: '\"text\"')\n", a)
			return opts, true, 2
		}
		opts.args = append(opts.args, json.RawMessage(a))
	}
	if *auth != "" {
		if !json.Valid([]byte(*auth)) || !strings.HasPrefix(strings.TrimSpace(*auth), "{") {
			fmt.Fprintf(stderr, "tether connect: --auth %q is not a JSON object\n", *auth)
			return opts, true, 2
		}
		opts.auth = json.RawMessage(*auth)
	}
	switch *transport {
	case "":
	case engineio.TransportPolling, engineio.TransportWebSocket:
		opts.transports = []string{*transport}
	default:
		fmt.Fprintf(stderr, "tether connect: --transport %q: want polling or websocket\n", *transport)
		return opts, true, 2
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			fmt.Fprintf(stderr, "tether connect: bad header %q: want 'Name: value'\n", h)
			return opts, true, 2
		}
		opts.header.Add(name, strings.TrimSpace(value))
	}
	parser, err := parserNamed(*parserName)
	if err != nil {
		fmt.Fprintf(stderr, "tether connect: %v\n", err)
		return opts, true, 2
	}
	opts.parser = parser
	if opts.ack && !opts.emitSet {
		fmt.Fprintln(stderr, "tether connect: --ack goes with --emit")
		return opts, true, 2
	}
	if opts.timeout <= 0 || opts.wait < 0 {
		fmt.Fprintln(stderr, "tether connect: --timeout must be positive and --wait not negative")
		return opts, true, 2
	}
	return opts, false, 0
}

// eventPrinter writes lines to stdout from several goroutines, and nothing
// once stopped: handlers may still run after the client is closed.
type eventPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (p *eventPrinter) print(words ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		fmt.Fprintln(p.w, strings.Join(words, " "))
	}
}

func (p *eventPrinter) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

// jsonWords returns each value as JSON; []byte values become base64 strings.
func jsonWords(values []any) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte("null")
		}
		out = append(out, string(b))
	}
	return out
}

func runConnectSIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, done, code := parseSIOArgs(args, stdout, stderr)
	if done {
		return code
	}
	out := &eventPrinter{w: stdout}
	defer out.stop()
	c, err := socketio.NewClient(opts.url, &socketio.ClientOptions{
		Namespace:           opts.namespace,
		Auth:                opts.auth,
		Transports:          opts.transports,
		Header:              opts.header,
		Parser:              opts.parser,
		DisableReconnection: true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "tether connect: %v\n", err)
		return 2
	}
	defer c.Close()
	if !opts.ack {
		c.OnAny(func(event string, args []any) { out.print(append([]string{event}, jsonWords(args)...)...) })
	}
	disconnected := make(chan socketio.DisconnectReason, 1)
	c.OnDisconnect(func(r socketio.DisconnectReason) {
		select {
		case disconnected <- r:
		default:
		}
	})

	cctx, cancel := context.WithTimeout(ctx, opts.timeout)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted while connecting
		}
		fmt.Fprintf(stderr, "tether connect: %s\n", sioErrorText(opts, err))
		return 1
	}
	if opts.emitSet {
		return sioEmitOnce(ctx, c, opts, out, disconnected, stderr)
	}
	return sioInteractive(ctx, c, opts, stdin, out, disconnected, stderr)
}

// sioErrorText turns a Connect error into one plain sentence a user can act on, followed, when
// the error chain says more than the sentence, by the chain on a second, indented line: the
// chain (engineio: handshake: Get "…": dial tcp …) is what a bug report needs, not what a
// user reads first.
func sioErrorText(opts sioOptions, err error) string {
	var ce *socketio.ConnectError
	var he *engineio.HandshakeError
	switch {
	case errors.As(err, &ce):
		if ce.Data != nil {
			data, _ := json.Marshal(ce.Data)
			return fmt.Sprintf("connection refused: %s %s", ce.Message, data)
		}
		return "connection refused: " + ce.Message
	case errors.As(err, &he):
		return fmt.Sprintf("handshake refused: HTTP %d: %s", he.StatusCode, oneLine([]byte(he.Message), 200))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("cannot connect to the Socket.IO server at %s: no answer within %v.", opts.url, opts.timeout)
	}
	return fmt.Sprintf("cannot connect to the Socket.IO server at %s: %s.\n  details: %v", opts.url, connectCause(err), err)
}

// connectCause names, in plain words, why a connection could not be made.
func connectCause(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening on that port (connection refused)"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host name %q does not resolve", dnsErr.Name)
	case errors.As(err, &certErr):
		return "the server's TLS certificate is not trusted"
	case errors.As(err, &recordErr):
		return "the server does not speak TLS (try http:// instead of https://)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the server closed the connection during the handshake"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the host cannot be reached"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "the server did not answer in time"
	}
	return "the connection failed"
}

func anyArgs(raw []json.RawMessage) []any {
	out := make([]any, len(raw))
	for i, r := range raw {
		out[i] = r
	}
	return out
}

// sioEmitOnce implements --emit.
func sioEmitOnce(ctx context.Context, c *socketio.Client, opts sioOptions, out *eventPrinter, disconnected <-chan socketio.DisconnectReason, stderr io.Writer) int {
	if opts.ack {
		actx, cancel := context.WithTimeout(ctx, opts.timeout)
		defer cancel()
		a, err := c.EmitWithAck(actx, opts.emit, anyArgs(opts.args)...)
		switch {
		case err == nil:
			out.print(jsonWords(a.Values())...)
			return 0
		case ctx.Err() != nil:
			return 0
		case actx.Err() != nil:
			fmt.Fprintf(stderr, "tether connect: no acknowledgement of %q within %v\n", opts.emit, opts.timeout)
		default:
			fmt.Fprintf(stderr, "tether connect: %v\n", err)
		}
		return 1
	}
	if err := c.Emit(opts.emit, anyArgs(opts.args)...); err != nil {
		fmt.Fprintf(stderr, "tether connect: %v\n", err)
		return 1
	}
	timer := time.NewTimer(opts.wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case r := <-disconnected:
		return reportSIODisconnect(r, stderr)
	}
	return 0
}

// reportSIODisconnect prints why the server or the network ended the
// session: 0 when the server disconnected the socket, 1 otherwise.
func reportSIODisconnect(r socketio.DisconnectReason, stderr io.Writer) int {
	fmt.Fprintf(stderr, "disconnected: %s\n", r)
	if r == socketio.ReasonIOServerDisconnect {
		return 0
	}
	return 1
}

// parseEventLine splits "EVENT [JSON…]".
func parseEventLine(line string) (event string, args []json.RawMessage, err error) {
	line = strings.TrimSpace(line)
	event, rest, _ := strings.Cut(line, " ")
	dec := json.NewDecoder(strings.NewReader(rest))
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			return event, args, nil
		} else if err != nil {
			return "", nil, fmt.Errorf("arguments must be JSON values: %v", err)
		}
		args = append(args, bytes.Clone(v))
	}
}

// sioInteractive emits each stdin line and prints acks and events, until
// stdin ends, the session ends or ctx is done.
func sioInteractive(ctx context.Context, c *socketio.Client, opts sioOptions, stdin io.Reader, out *eventPrinter, disconnected <-chan socketio.DisconnectReason, stderr io.Writer) int {
	stop := make(chan struct{})
	defer close(stop)
	lines, stdinErr := readLines(stdin, stop)

	actx, cancel := context.WithCancel(ctx)
	var acks sync.WaitGroup
	defer func() {
		cancel()
		c.Close()
		acks.Wait()
	}()
	for {
		select {
		case line := <-lines:
			if strings.TrimSpace(line) == "" {
				continue
			}
			event, args, err := parseEventLine(line)
			if err != nil {
				fmt.Fprintf(stderr, "tether connect: %q: %v\n", line, err)
				continue
			}
			// The callback runs in order with the event handlers, so acks
			// and events print in the order they arrived.
			acks.Add(1)
			err = c.EmitWithAckFunc(actx, func(a socketio.Args, err error) {
				defer acks.Done()
				if err == nil {
					out.print(append([]string{"ack", event}, jsonWords(a.Values())...)...)
				}
			}, event, anyArgs(args)...)
			if err != nil {
				acks.Done()
				fmt.Fprintf(stderr, "tether connect: %v\n", err)
			}
		case err := <-stdinErr:
			if err != nil {
				fmt.Fprintf(stderr, "tether connect: reading stdin: %v\n", err)
				return 1
			}
			// Give the server --wait at most to answer what was sent.
			answered := make(chan struct{})
			go func() { acks.Wait(); close(answered) }()
			timer := time.NewTimer(opts.wait)
			defer timer.Stop()
			select {
			case <-answered:
			case <-timer.C:
			case <-ctx.Done():
			case r := <-disconnected:
				cancel()
				<-answered
				return reportSIODisconnect(r, stderr)
			}
			cancel()
			<-answered
			return 0
		case r := <-disconnected:
			return reportSIODisconnect(r, stderr)
		case <-ctx.Done():
			return 0
		}
	}
}
