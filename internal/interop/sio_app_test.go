package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// The tests in this file go beyond the test server's contract: each builds its own Socket.IO
// app with the socketio package, serves it in-process, and drives it with the official
// socket.io-client through sio-client.mjs's "script" scenario, whose JavaScript sits next to
// the Go half it talks to. h is sio-client.mjs's helper object: h.open, h.socketOf,
// h.expectSame, h.result, and Peer's take/next/ack on what they return.

// sioApp is an in-process Socket.IO server on a loopback port.
type sioApp struct {
	io  *socketio.Server
	url string

	once        sync.Once
	shutdownErr error
}

// startSIOApp serves a socketio.Server configured by setup, shut down when t ends.
func startSIOApp(t *testing.T, opts *socketio.ServerOptions, setup func(io *socketio.Server)) *sioApp {
	t.Helper()
	io := socketio.NewServer(opts)
	setup(io)
	hs := httptest.NewServer(io)
	app := &sioApp{io: io, url: hs.URL}
	t.Cleanup(func() {
		if err := app.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return app
}

// shutdown shuts the server down once, within 10 s.
func (a *sioApp) shutdown() error {
	a.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.shutdownErr = a.io.Shutdown(ctx)
	})
	return a.shutdownErr
}

// sioScript is a running sio-client.mjs script.
type sioScript struct {
	done chan struct{} // closed once it exited
	out  string
	err  error
}

// startSIOScript runs js as sio-client.mjs's script scenario against url. It is killed, if
// still running, when t ends.
func startSIOScript(t *testing.T, url, transport, js string) *sioScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	s := &sioScript{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.out, s.err = runSIOClient(ctx, url, "script", "--transport="+transport, "--script="+js)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// results waits for the script to end, fails t unless it passed, and decodes each value it
// printed with h.result into the next of dst.
func (s *sioScript) results(t *testing.T, dst ...any) {
	t.Helper()
	<-s.done // bounded by the script's context
	if s.err != nil {
		t.Fatalf("%v\n%s", s.err, s.out)
	}
	var lines []string
	for line := range strings.SplitSeq(s.out, "\n") {
		if r, ok := strings.CutPrefix(line, "RESULT "); ok {
			lines = append(lines, r)
		}
	}
	if len(lines) != len(dst) {
		t.Fatalf("script printed %d results, want %d:\n%s", len(lines), len(dst), s.out)
	}
	for i, line := range lines {
		if err := json.Unmarshal([]byte(line), dst[i]); err != nil {
			t.Fatalf("result %q: %v", line, err)
		}
	}
}

// receive returns the next value from c, failing t if the script ends or 20 s pass first.
func receive[T any](t *testing.T, s *sioScript, c <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-s.done:
		t.Fatalf("script ended before %s: %v\n%s", what, s.err, s.out)
	case <-timer.C:
		t.Fatalf("no %s within 20s", what)
	}
	panic("unreachable")
}

// eachSIOTransport runs f as one subtest per sio-client.mjs transport mode, concurrently.
func eachSIOTransport(t *testing.T, f func(t *testing.T, transport string)) {
	var wg sync.WaitGroup
	for _, tr := range sioTransports {
		wg.Go(func() { t.Run(tr, func(t *testing.T) { f(t, tr) }) })
	}
	wg.Wait()
}

// signal returns a handler that sends the socket's name (its Data) on a channel buffered
// for n calls, so that a handler never blocks.
func signal(n int) (chan string, func(s *socketio.Socket)) {
	c := make(chan string, n)
	return c, func(s *socketio.Socket) {
		name, _ := s.Data().(string)
		select {
		case c <- name:
		default:
		}
	}
}

// Middleware sees the handshake's auth, query and headers, and refuses with a ConnectError
// whose message and data the client gets; after a refusal later middleware does not run.
func TestSIOAppMiddleware(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		var second atomic.Int32
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			guarded := io.Of("/guarded")
			guarded.Use(func(s *socketio.Socket) error {
				hs := s.Handshake()
				var auth struct {
					Token string `json:"token"`
				}
				if err := hs.DecodeAuth(&auth); err != nil {
					return err
				}
				switch auth.Token {
				case "good":
					s.SetData(map[string]any{
						"query":   hs.Query.Get("room"),
						"header":  hs.Header.Get("X-Tether-Test"),
						"auth":    hs.Auth,
						"address": hs.Address,
					})
					return nil
				case "plain":
					return errors.New("plain refusal")
				}
				return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"code": 4001, "retry": false}}
			})
			guarded.Use(func(s *socketio.Socket) error {
				second.Add(1)
				return nil
			})
			guarded.OnConnect(func(s *socketio.Socket) { s.Emit("seen", s.Data()) })
		})
		startSIOScript(t, app.url, transport, `
			const bad = h.socketOf('bad', '/guarded', { auth: { token: 'bad' } });
			let err = (await bad.take('connect_error')).args[0];
			h.expectSame('refusal', ['not authorized', { code: 4001, retry: false }], [err.message, err.data]);
			const plain = h.socketOf('plain', '/guarded', { auth: { token: 'plain' } });
			err = (await plain.take('connect_error')).args[0];
			h.expectSame('plain refusal', ['plain refusal', undefined], [err.message, err.data]);
			const good = await h.open('good', '/guarded', {
				auth: { token: 'good', n: 1 },
				managerOpts: { query: { room: 'r1' }, extraHeaders: { 'x-tether-test': 'yes' } },
			});
			h.expectSame('handshake seen by the middleware',
				[{ query: 'r1', header: 'yes', auth: { token: 'good', n: 1 }, address: '127.0.0.1' }],
				await good.next('seen'));
		`).results(t)
		if n := second.Load(); n != 1 {
			t.Errorf("second middleware ran %d times, want once (for the accepted socket)", n)
		}
	})
}

// A dynamic namespace made by OfMatch on first connection inherits the parent's middleware
// and handlers, and the parent's Emit reaches every child.
func TestSIOAppDynamicNamespace(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		ready := make(chan string, 2)
		var dyn *socketio.Namespace
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			dyn = io.OfMatch(regexp.MustCompile(`^/dyn-\d+$`).MatchString)
			dyn.Use(func(s *socketio.Socket) error {
				s.SetData("via the parent's middleware")
				return nil
			})
			dyn.OnConnect(func(s *socketio.Socket) { s.Emit("welcome", s.Namespace().Name(), s.Data()) })
			dyn.On("whoami", func(s *socketio.Socket) string { return s.Namespace().Name() })
			dyn.On("ready", func(s *socketio.Socket) { ready <- s.Namespace().Name() })
		})
		script := startSIOScript(t, app.url, transport, `
			const a = await h.open('a', '/dyn-42');
			h.expectSame('welcome', ['/dyn-42', "via the parent's middleware"], await a.next('welcome'));
			h.expectSame('whoami', ['/dyn-42'], await a.ack('whoami'));
			const b = await h.open('b', '/dyn-7', { m: a.socket.io });
			h.expectSame('welcome', ['/dyn-7', "via the parent's middleware"], await b.next('welcome'));
			const bad = h.socketOf('bad', '/dyn-x', { m: a.socket.io });
			h.expectSame('refusal of /dyn-x', ['Invalid namespace'], [(await bad.take('connect_error')).args[0].message]);
			a.socket.emit('ready');
			b.socket.emit('ready');
			h.expectSame('notice on /dyn-42', ['to every child'], await a.next('notice'));
			h.expectSame('notice on /dyn-7', ['to every child'], await b.next('notice'));
		`)
		got := []string{receive(t, script, ready, "ready"), receive(t, script, ready, "ready")}
		slices.Sort(got)
		if want := []string{"/dyn-42", "/dyn-7"}; !slices.Equal(got, want) {
			t.Errorf("ready from %q, want %q", got, want)
		}
		if err := dyn.Emit("notice", "to every child"); err != nil {
			t.Errorf("Emit on the parent: %v", err)
		}
		script.results(t)
	})
}

// A handler asks its client a question with EmitWithAck and decodes the typed answer.
func TestSIOAppServerEmitWithAck(t *testing.T) {
	requireNode(t)
	t.Parallel()
	type answer struct {
		word string
		n    int
		data []byte
		obj  struct {
			Name string `json:"name"`
			List []int  `json:"list"`
		}
		err error
	}
	eachSIOTransport(t, func(t *testing.T, transport string) {
		answers := make(chan answer, 1)
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			io.On("ask-me", func(s *socketio.Socket) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var a answer
				args, err := s.EmitWithAck(ctx, "question", "what?", []byte{1, 2, 3})
				if a.err = err; err == nil {
					a.err = args.Decode(&a.word, &a.n, &a.data, &a.obj)
				}
				answers <- a
				s.Emit("done")
			})
		})
		script := startSIOScript(t, app.url, transport, `
			const a = await h.open('a');
			a.socket.emit('ask-me');
			const q = await a.next('question');
			const ack = q.pop();
			h.check(typeof ack === 'function', 'question asked for no ack');
			h.expectSame('question', ['what?', Buffer.from([1, 2, 3])], q);
			ack('answer', 42, Buffer.from([9, 8, 7]), { name: 'n', list: [1, 2] });
			await a.next('done');
		`)
		a := receive(t, script, answers, "the answer")
		if a.err != nil || a.word != "answer" || a.n != 42 || string(a.data) != "\x09\x08\x07" ||
			a.obj.Name != "n" || !slices.Equal(a.obj.List, []int{1, 2}) {
			t.Errorf("answer: %q %d %v %+v, err %v", a.word, a.n, a.data, a.obj, a.err)
		}
		script.results(t)
	})
}

// A broadcast EmitWithAck collects one answer per socket of the room; with a socket that
// never answers, it returns the others' once its context ends.
func TestSIOAppBroadcastEmitWithAck(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		ready, onReady := signal(5)
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			io.On("join", func(s *socketio.Socket, room string) string {
				s.Join(room)
				return room
			})
			io.On("ready", onReady)
		})
		script := startSIOScript(t, app.url, transport, `
			const names = ['c0', 'c1', 'c2', 'silent', 'outsider'];
			const polls = {};
			const peers = [];
			for (const name of names) {
				const p = await h.open(name);
				polls[name] = 0;
				p.socket.on('poll', (...args) => {
					const ack = args.pop();
					polls[name]++;
					if (name !== 'silent') ack(name, args[0]);
				});
				peers.push(p);
			}
			for (const p of peers.slice(0, 3)) h.expectSame('join', ['acks'], await p.ack('join', 'acks'));
			h.expectSame('join', ['quiet'], await peers[3].ack('join', 'quiet'));
			for (const p of peers) p.socket.emit('ready');
			for (const p of peers) await p.next('done');
			h.result(polls);
		`)
		for range 5 {
			receive(t, script, ready, "ready")
		}

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		answers, err := app.io.To("acks").EmitWithAck(ctx, "poll", "first")
		if got := answerers(t, answers); err != nil || !slices.Equal(got, []string{"c0", "c1", "c2"}) {
			t.Errorf("To(acks).EmitWithAck: answers from %q, err %v; want c0 c1 c2", got, err)
		}

		short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		answers, err = app.io.To("acks", "quiet").EmitWithAck(short, "poll", "second")
		if got := answerers(t, answers); !errors.Is(err, context.DeadlineExceeded) || !slices.Equal(got, []string{"c0", "c1", "c2"}) {
			t.Errorf("To(acks, quiet).EmitWithAck: answers from %q, err %v; want c0 c1 c2 and a deadline error", got, err)
		}
		if err := app.io.Emit("done"); err != nil {
			t.Error(err)
		}
		var polls map[string]int
		script.results(t, &polls)
		if want := map[string]int{"c0": 2, "c1": 2, "c2": 2, "silent": 1, "outsider": 0}; fmt.Sprint(polls) != fmt.Sprint(want) {
			t.Errorf("polls received: %v, want %v", polls, want)
		}
	})
}

// answerers returns the sorted names the clients answered a poll with.
func answerers(t *testing.T, answers []socketio.Args) []string {
	t.Helper()
	var names []string
	for _, a := range answers {
		var name, poll string
		if err := a.Decode(&name, &poll); err != nil {
			t.Errorf("answer %v: %v", a.Values(), err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// namedApp is an app whose sockets are named by their auth payload's name (their Data),
// join the rooms they ask for, and say when they are ready.
func namedApp(onReady func(*socketio.Socket)) func(io *socketio.Server) {
	return func(io *socketio.Server) {
		io.Use(func(s *socketio.Socket) error {
			var auth struct {
				Name string `json:"name"`
			}
			if err := s.Handshake().DecodeAuth(&auth); err != nil {
				return err
			}
			s.SetData(auth.Name)
			return nil
		})
		io.On("join", func(s *socketio.Socket, rooms []string) bool {
			s.Join(rooms...)
			return true
		})
		io.On("ready", onReady)
	}
}

// collectJS opens one socket per entry of rooms (name: rooms to join), says ready, and
// prints for each what it got until done or a disconnect: ev's first argument, then "done"
// or "disconnect: REASON".
const collectJS = `
	const peers = {};
	for (const [name, list] of Object.entries(rooms)) {
		const p = await h.open(name, '/', { auth: { name } });
		h.expectSame('join', [true], await p.ack('join', list));
		peers[name] = p;
	}
	for (const p of Object.values(peers)) p.socket.emit('ready');
	const got = {};
	await Promise.all(Object.entries(peers).map(async ([name, p]) => {
		got[name] = [];
		for (;;) {
			const e = await p.take(['ev', 'done', 'disconnect']);
			if (e.event === 'ev') { got[name].push(e.args[0]); continue; }
			got[name].push(e.event === 'done' ? 'done' : 'disconnect: ' + e.args[0]);
			return;
		}
	}));
	h.result(got);
`

// Broadcasts select sockets by rooms and Except; FetchSockets, SocketsJoin and
// DisconnectSockets act on the sockets a selection holds.
func TestSIOAppRooms(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		ready, onReady := signal(4)
		app := startSIOApp(t, nil, namedApp(onReady))
		script := startSIOScript(t, app.url, transport,
			`const rooms = { a: ['r1'], b: ['r1', 'r2'], c: ['r2'], d: [] };`+collectJS)
		for range 4 {
			receive(t, script, ready, "ready")
		}
		io := app.io
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		fetch := func(b socketio.BroadcastOperator) map[string][]string {
			infos, err := b.FetchSockets(ctx)
			if err != nil {
				t.Errorf("FetchSockets: %v", err)
			}
			rooms := map[string][]string{}
			for _, info := range infos {
				name, _ := info.Data.(string)
				rooms[name] = slices.DeleteFunc(slices.Sorted(slices.Values(info.Rooms)), func(r string) bool { return r == info.ID })
			}
			return rooms
		}
		steps := []error{
			io.To("r1", "r2").Except("r2").Emit("ev", "r1 except r2"),
			io.To("r1").Emit("ev", "r1"),
			io.Except("r1").Emit("ev", "all except r1"),
			io.To("r2").Except("r1").Emit("ev", "r2 except r1"),
		}
		if got, want := fmt.Sprint(fetch(io.In("r1"))), "map[a:[r1] b:[r1 r2]]"; got != want {
			t.Errorf("In(r1).FetchSockets: %s, want %s", got, want)
		}
		steps = append(steps,
			io.In("r2").SocketsJoin("r3"),
			io.To("r3").Emit("ev", "r3"),
			io.In("r3").DisconnectSockets(false),
		)
		if got, want := fmt.Sprint(fetch(io.Local())), "map[a:[r1] d:[]]"; got != want {
			t.Errorf("FetchSockets after DisconnectSockets: %s, want %s", got, want)
		}
		steps = append(steps, io.Emit("ev", "all"), io.Emit("done"))
		if err := errors.Join(steps...); err != nil {
			t.Error(err)
		}
		var got map[string][]string
		script.results(t, &got)
		want := map[string][]string{
			"a": {"r1 except r2", "r1", "all", "done"},
			"b": {"r1", "r3", "disconnect: io server disconnect"},
			"c": {"all except r1", "r2 except r1", "r3", "disconnect: io server disconnect"},
			"d": {"all except r1", "all", "done"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("received:\n%v\nwant:\n%v", got, want)
		}
	})
}

// Volatile events may be dropped, never reordered or duplicated, and do not hold up the
// events after them.
func TestSIOAppVolatile(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		ready, onReady := signal(2)
		app := startSIOApp(t, nil, namedApp(onReady))
		script := startSIOScript(t, app.url, transport, `const rooms = { a: [], b: [] };`+collectJS)
		for range 2 {
			receive(t, script, ready, "ready")
		}
		var errs []error
		for i := range 50 {
			errs = append(errs, app.io.Volatile().Emit("ev", fmt.Sprint("io ", i)))
			for _, s := range app.io.Of("/").Sockets() {
				errs = append(errs, s.Volatile().Emit("ev", fmt.Sprint("socket ", i)))
			}
		}
		errs = append(errs, app.io.Emit("done"))
		if err := errors.Join(errs...); err != nil {
			t.Error(err)
		}
		var got map[string][]string
		script.results(t, &got)
		for name, events := range got {
			if len(events) == 0 || events[len(events)-1] != "done" {
				t.Errorf("%s: %q does not end with done", name, events)
				continue
			}
			last := map[string]int{"io": -1, "socket": -1}
			for _, ev := range events[:len(events)-1] {
				var from string
				var i int
				if _, err := fmt.Sscan(ev, &from, &i); err != nil || i <= last[from] {
					t.Errorf("%s: %q out of order or repeated in %q", name, ev, events)
					break
				}
				last[from] = i
			}
			t.Logf("%s: %s got %d of 100 volatile events", transport, name, len(events)-1)
		}
	})
}

// Shutdown disconnects every socket, which the client sees, and refuses new connections.
func TestSIOAppShutdown(t *testing.T) {
	requireNode(t)
	t.Parallel()
	eachSIOTransport(t, func(t *testing.T, transport string) {
		ready, onReady := signal(2)
		reasons := make(chan socketio.DisconnectReason, 4)
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			for _, nsp := range []*socketio.Namespace{io.Of("/"), io.Of("/other")} {
				nsp.On("ready", onReady)
				nsp.OnDisconnect(func(_ *socketio.Socket, r socketio.DisconnectReason) { reasons <- r })
			}
		})
		script := startSIOScript(t, app.url, transport, `
			const root = await h.open('root');
			const other = await h.open('other', '/other', { m: root.socket.io });
			root.socket.emit('ready');
			other.socket.emit('ready');
			const seen = [];
			for (const p of [root, other]) seen.push((await p.take('disconnect')).args[0]);
			const late = h.socketOf('late', '/');
			const e = await late.take(['connect', 'connect_error']);
			h.check(e.event === 'connect_error', 'a connection after Shutdown was accepted');
			h.result(seen);
		`)
		for range 2 {
			receive(t, script, ready, "ready")
		}
		if err := app.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if r := receive(t, script, reasons, "OnDisconnect"); r != socketio.ReasonServerShuttingDown {
				t.Errorf("server-side disconnect reason %q, want %q", r, socketio.ReasonServerShuttingDown)
			}
		}
		var seen []string
		script.results(t, &seen)
		t.Logf("client disconnect reasons: %q", seen)
	})
}

// Handlers take typed parameters (structs, pointers, []byte, Ack, a variadic tail) and may
// answer by returning values; arguments that do not decode leave the handler uncalled.
func TestSIOAppTypedHandlers(t *testing.T) {
	requireNode(t)
	t.Parallel()
	type order struct {
		Symbol string   `json:"symbol"`
		Qty    int      `json:"qty"`
		Tags   []string `json:"tags"`
	}
	eachSIOTransport(t, func(t *testing.T, transport string) {
		app := startSIOApp(t, nil, func(io *socketio.Server) {
			io.On("typed", func(s *socketio.Socket, o order, data []byte, n int, ack socketio.Ack) {
				ack(o.Symbol, o.Qty*n, len(data), data, o.Tags)
			})
			io.On("sum", func(a, b int) int { return a + b })
			io.On("rest", func(first string, rest ...any) (string, []any) { return first, rest })
			io.On("pointer", func(o *order) string { return o.Symbol })
		})
		startSIOScript(t, app.url, transport, `
			const a = await h.open('a');
			h.expectSame('typed', ['ABC', 21, 4, Buffer.from([1, 2, 3, 4]), ['x', 'y']],
				await a.ack('typed', { symbol: 'ABC', qty: 3, tags: ['x', 'y'], unknown: true }, Buffer.from([1, 2, 3, 4]), 7));
			h.expectSame('sum', [5], await a.ack('sum', 2, 3));
			h.expectSame('rest', ['first', [1, 'two', Buffer.from([3]), { four: [4] }]],
				await a.ack('rest', 'first', 1, 'two', Buffer.from([3]), { four: [4] }));
			h.expectSame('pointer', ['PTR'], await a.ack('pointer', { symbol: 'PTR' }));
			let wrong = null;
			a.socket.emit('sum', 'not a number', 2, (...r) => { wrong = r; });
			h.expectSame('sum after a mismatch', [7], await a.ack('sum', 3, 4));
			h.check(wrong === null, 'the mismatched sum was answered: ' + h.show(wrong));
		`).results(t)
	})
}
