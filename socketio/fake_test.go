package socketio

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// fakeSession is an Engine.IO session without a network: it counts what is sent to it, so that
// benchmarks and stress tests measure the Socket.IO layer alone.
type fakeSession struct {
	id     string
	sent   atomic.Int64
	mu     sync.Mutex
	last   []*engineio.PreparedMessage
	keep   bool
	closed atomic.Bool
	onSend func(ms []*engineio.PreparedMessage) // called by Send, if set
}

func (f *fakeSession) ID() string { return f.id }
func (f *fakeSession) Request() *engineio.RequestInfo {
	r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	r.RemoteAddr = "127.0.0.1:1"
	return engineio.NewRequestInfo(r)
}
func (f *fakeSession) Transport() string { return engineio.TransportWebSocket }
func (f *fakeSession) Protocol() int     { return 4 }
func (f *fakeSession) Send(ms ...*engineio.PreparedMessage) error {
	if f.closed.Load() {
		return engineio.CloseServerClose
	}
	f.sent.Add(int64(len(ms)))
	if f.onSend != nil {
		f.onSend(ms)
	}
	if f.keep {
		f.mu.Lock()
		f.last = append(f.last, ms...)
		f.mu.Unlock()
	}
	return nil
}
func (f *fakeSession) SendVolatile(ms ...*engineio.PreparedMessage) error { return f.Send(ms...) }
func (f *fakeSession) Close() error                                       { f.closed.Store(true); return nil }

// fakeConnect joins n fake connections to namespace "/" of srv and waits until they are in.
func fakeConnect(tb testing.TB, srv *Server, n int) []*conn {
	tb.Helper()
	conns := make([]*conn, n)
	for i := range conns {
		c := newConn(srv, &fakeSession{id: randomID()})
		conns[i] = c
		c.receive(engineio.Message{Data: []byte("0")})
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Of("/").Sockets()) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d sockets connected", len(srv.Of("/").Sockets()), n)
		}
		time.Sleep(time.Millisecond)
	}
	return conns
}

// fakeConnectOne is fakeConnect of one connection, with its session, whose onSend the test
// may set: what the server sends that connection.
func fakeConnectOne(tb testing.TB, srv *Server) (*conn, *fakeSession) {
	tb.Helper()
	c := fakeConnect(tb, srv, 1)[0]
	return c, c.es.(*fakeSession)
}

func closeFakes(conns []*conn) {
	for _, c := range conns {
		c.onClose(ReasonTransportClose, nil)
	}
	if len(conns) > 0 {
		conns[0].srv.workers.close()
	}
}

// logRecorder is a slog.Handler that keeps the records it is given, for tests to look at.
type logRecorder struct {
	level   slog.Leveler // nil: every level
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(_ context.Context, level slog.Level) bool {
	return r.level == nil || level >= r.level.Level()
}
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// take returns the records kept so far, as "message key=value ...", and forgets them.
func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		line := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			line += " " + a.String()
			return true
		})
		out = append(out, line)
	}
	r.records = nil
	return out
}

// errs returns the errors among the attributes of the records kept so far.
func (r *logRecorder) errs() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []error
	for _, rec := range r.records {
		rec.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok {
				out = append(out, err)
			}
			return true
		})
	}
	return out
}
