package socketio

import (
	"net/url"
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
	last   []*engineio.OutMessage
	keep   bool
	closed atomic.Bool
}

func (f *fakeSession) ID() string { return f.id }
func (f *fakeSession) Request() *engineio.RequestInfo {
	return &engineio.RequestInfo{URL: &url.URL{Path: "/socket.io/"}, Query: url.Values{}, RemoteAddr: "127.0.0.1:1", Time: time.Now()}
}
func (f *fakeSession) Transport() string { return engineio.TransportWebSocket }
func (f *fakeSession) Send(ms ...*engineio.OutMessage) error {
	if f.closed.Load() {
		return engineio.CloseServerClose
	}
	f.sent.Add(int64(len(ms)))
	if f.keep {
		f.mu.Lock()
		f.last = append(f.last, ms...)
		f.mu.Unlock()
	}
	return nil
}
func (f *fakeSession) SendVolatile(ms ...*engineio.OutMessage) error { return f.Send(ms...) }
func (f *fakeSession) Close() error                                  { f.closed.Store(true); return nil }

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

func closeFakes(conns []*conn) {
	for _, c := range conns {
		c.onClose(ReasonTransportClose, nil)
	}
	if len(conns) > 0 {
		conns[0].srv.workers.close()
	}
}
