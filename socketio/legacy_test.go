package socketio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tether-rt/tether/websocket"
)

func TestLegacyNamespace(t *testing.T) {
	for _, c := range []struct{ in, name, auth string }{
		{"/", "/", "{}"},
		{"/custom", "/custom", "{}"},
		{"/custom?token=x%20y&n=1", "/custom", `{"token":"x y","n":"1"}`},
		{"/a?z=1&a=2&z=3&", "/a", `{"z":["1","3"],"a":"2"}`},
		{"/a?k", "/a", `{"k":""}`},
	} {
		name, auth := legacyNamespace(c.in)
		if name != c.name || string(auth) != c.auth {
			t.Errorf("%q: %q %s, want %q %s", c.in, name, auth, c.name, c.auth)
		}
	}
}

func TestLegacyConnectError(t *testing.T) {
	for _, c := range []struct {
		ce   *ConnectError
		want string
	}{
		{&ConnectError{Message: "no"}, `"no"`},
		{&ConnectError{Message: "no", Data: map[string]int{"code": 7}}, `{"code":7}`},
	} {
		if got, err := legacyConnectError(c.ce); err != nil || string(got) != c.want {
			t.Errorf("%+v: %s %v, want %s", c.ce, got, err, c.want)
		}
	}
	if legacySocketID("/", "abc") != "abc" || legacySocketID("/x", "abc") != "/x#abc" {
		t.Error("socket ids")
	}
}

// TestLegacyClient speaks Socket.IO v4 over Engine.IO v3 on a WebSocket, as socket.io-client 2.x
// does, beside a v5 client that gets the same broadcast.
func TestLegacyClient(t *testing.T) {
	connected := make(chan struct{}, 4)
	var server *Server
	url := startServer(t, &ServerOptions{AllowEIO3: true}, func(srv *Server) {
		server = srv
		srv.OnConnect(func(s *Socket) { connected <- struct{}{} })
		srv.Of("/custom").OnConnect(func(s *Socket) { s.Emit("auth", s.Handshake().Auth, s.ID()) })
		srv.Of("/private").Use(func(s *Socket) error { return &ConnectError{Message: "nope"} })
	})
	ctx := testContext(t)
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "?EIO=3&transport=websocket"
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() string {
		t.Helper()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if typ == websocket.MessageBinary {
				return "bin:" + string(b)
			}
			if string(b) != "3" { // pongs
				return string(b)
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	open := read()
	var o struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &o); err != nil {
		t.Fatalf("open %q", open)
	}
	// In "/" at once, without a CONNECT, and told so without a payload.
	if got := read(); got != "40" {
		t.Fatalf("got %q, want 40", got)
	}
	<-connected
	send("40/custom?token=x%20y,")
	if got := read(); got != "40/custom" {
		t.Fatalf("got %q", got)
	}
	if got, want := read(), `42/custom,["auth",{"token":"x y"},"/custom#`+o.SID+`"]`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	send("40/private,")
	if got := read(); got != `44/private,"nope"` {
		t.Fatalf("got %q", got)
	}

	v5 := dialRaw(t, url)
	v5.connect("/")
	<-connected
	// One broadcast, binary attachment included, reaches both in their own Engine.IO forms.
	if err := server.Emit("b", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	const event = `451-["b",{"_placeholder":true,"num":0}]`
	if got := read(); got != event {
		t.Fatalf("v3 got %q", got)
	}
	if got := read(); got != "bin:\x04\x01\x02" {
		t.Fatalf("v3 attachment %q", got)
	}
	v5.expect(event)
	v5.expect("<bin:\x01\x02>")
}

func FuzzLegacyNamespace(f *testing.F) {
	for _, s := range []string{"/", "/custom?token=x%20y&n=1", "/a?z=1&a=2&z=3&", "/a?k", "/?%zz=\xff&=&&", "/x?a=%22%5C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, nsp string) {
		name, auth := legacyNamespace(nsp)
		if !strings.HasPrefix(nsp, name) || strings.Contains(name, "?") {
			t.Fatalf("%q: name %q", nsp, name)
		}
		var obj map[string]any
		if err := json.Unmarshal(auth, &obj); err != nil {
			t.Fatalf("%q: auth %s is no JSON object: %v", nsp, auth, err)
		}
	})
}
