package engineio

import (
	"strings"
	"testing"

	"github.com/tether-rt/tether/websocket"
)

// TestServerCloseDuringUpgrade closes a session from the server while its client, having
// stopped polling, is finishing an upgrade: what was queued and the close packet reach the
// client over the new WebSocket, as with the JavaScript server, instead of staying in a
// polling queue no one reads.
func TestServerCloseDuringUpgrade(t *testing.T) {
	base := conformanceServer(t)
	ctx := t.Context()
	sid := handshakePolling(t, base).SID
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/engine.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte("2probe"))
	if _, b, err := c.Read(ctx); err != nil || string(b) != "3probe" {
		t.Fatalf("probe: %q %v", b, err)
	}
	var session *Session
	waitSession(t, sid, func(s *Session) bool { session = s; return true })
	for _, m := range []string{"a", "b", "c"} {
		if err := session.Send(NewPreparedMessage([]byte(m), false)); err != nil {
			t.Fatal(err)
		}
	}
	_ = session.Close()
	_ = c.Write(ctx, websocket.MessageText, []byte("5"))
	var got []string
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			break
		}
		got = append(got, string(b))
	}
	if strings.Join(got, " ") != "4a 4b 4c 1" {
		t.Fatalf("over the WebSocket: %q, want the three messages then the close packet", got)
	}
}
