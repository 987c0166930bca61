package redis

import (
	"context"
	"testing"

	"github.com/tether-rt/tether/socketio"
)

// testHost returns the AdapterHost of namespace nsp of a server that is shut down at once:
// the wire tests need only its PacketFromData, which needs no running server.
func testHost(tb testing.TB, nsp string) socketio.AdapterHost {
	tb.Helper()
	var host socketio.AdapterHost
	srv := socketio.NewServer(&socketio.ServerOptions{Adapter: func(h socketio.AdapterHost) socketio.Adapter {
		if h.Namespace() == nsp {
			host = h
		}
		return socketio.NewMemoryAdapter(h)
	}})
	srv.Of(nsp)
	if err := srv.Shutdown(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return host
}
