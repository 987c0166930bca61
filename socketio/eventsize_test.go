package socketio

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tether-rt/tether/engineio"
)

// What an incoming event costs in memory, by the shape of its arguments and the parameters of
// the handler that takes them: the bytes allocated from the packet's arrival to the handler's
// re-emit, per byte of the packet. Issue 13 found ~20 B per byte for one large array of small
// numbers; strings of the same size cost 2.

// bigEvents returns Socket.IO text packets, `2["message",...]`, of a few shapes that are cheap
// on the wire and costly decoded, each about 800 KB.
func bigEvents() []struct {
	name string
	data []byte
} {
	list := func(n int, elem string) string {
		var b strings.Builder
		b.Grow(n * (len(elem) + 1))
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(elem)
		}
		return b.String()
	}
	var keys strings.Builder
	for i := range 80_000 {
		if i > 0 {
			keys.WriteByte(',')
		}
		keys.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	event := func(args string) []byte { return []byte(`2["message",` + args + `]`) }
	return []struct {
		name string
		data []byte
	}{
		{"Array", event("[" + list(400_000, "1") + "]")},                         // one array of 400,000 numbers
		{"Arguments", event(list(400_000, "1"))},                                 // 400,000 arguments
		{"ManyKeys", event("{" + keys.String() + "}")},                           // an object of 80,000 keys
		{"EmptyObjects", event("[" + list(200_000, "{}") + "]")},                 // 200,000 empty objects
		{"Deep", event(strings.Repeat("[", 9_000) + strings.Repeat("]", 9_000))}, // nested 9,000 deep
		{"DeepObjects", event(strings.Repeat(`{"":`, 4_000) + "1" + strings.Repeat("}", 4_000))},
		{"String", event(`"` + strings.Repeat("a", 800_000) + `"`)}, // the control: one string
	}
}

// echoHandlers are handlers that send the event back, as tether testserver's "message" does,
// taking the arguments in the ways a user can.
var echoHandlers = []struct {
	name string
	fn   any
}{
	{"Args", func(s *Socket, args Args) { s.Emit("message-back", args) }}, // tether testserver's
	{"Any", func(s *Socket, v any) { s.Emit("message-back", v) }},
	{"Variadic", func(s *Socket, args ...any) { s.Emit("message-back", args...) }}, // the doc's echo
	{"Floats", func(s *Socket, v []float64) { s.Emit("message-back", v) }},
}

// eventServer is a server with one fake connection whose "message" event goes to fn.
type eventServer struct {
	srv  *Server
	conn *conn
}

func newEventServer(tb testing.TB, opts *ServerOptions, fn any) *eventServer {
	tb.Helper()
	e := &eventServer{srv: NewServer(opts)}
	e.srv.Of("/").On("message", fn)
	e.conn = fakeConnect(tb, e.srv, 1)[0]
	return e
}

func (e *eventServer) close() { closeFakes([]*conn{e.conn}) }

// receive hands the server one event and waits until its handlers have run (or refused it).
func (e *eventServer) receive(data []byte) {
	e.conn.receive(engineio.Message{Data: data}) // queues the handlers' work before returning
	drainHandlers(e.srv)
}

// drainHandlers returns once the handlers of the sockets of namespace "/" are idle.
func drainHandlers(srv *Server) {
	for _, s := range srv.Of("/").Sockets() {
		for {
			s.exec.mu.Lock()
			busy := s.exec.running
			s.exec.mu.Unlock()
			if !busy {
				break
			}
			runtime.Gosched()
		}
	}
}

// allocatedPerByte returns the bytes allocated by runs of f, per byte of size and per run.
func allocatedPerByte(runs, size int, f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs) / float64(size)
}

// BenchmarkEventMemory reports the bytes allocated per byte of an incoming event, from the
// parser to the handler's re-emit, for each shape of bigEvents and each kind of handler:
//
//	go test -run '^$' -bench EventMemory -benchmem ./socketio
func BenchmarkEventMemory(b *testing.B) {
	for _, h := range echoHandlers {
		for _, ev := range bigEvents() {
			b.Run(h.name+"/"+ev.name, func(b *testing.B) {
				e := newEventServer(b, nil, h.fn)
				defer e.close()
				e.receive(ev.data) // warm up: the worker's stack, the pools
				b.SetBytes(int64(len(ev.data)))
				b.ReportAllocs()
				var perByte float64
				b.ResetTimer()
				for b.Loop() {
					perByte += allocatedPerByte(1, len(ev.data), func() { e.receive(ev.data) })
				}
				b.ReportMetric(perByte/float64(b.N), "B/in-byte")
			})
		}
	}
}
