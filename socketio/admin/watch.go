package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// watch registers the hooks that report on a namespace's sockets and rooms, once per namespace.
func (a *Admin) watch(n *socketio.Namespace) {
	a.mu.Lock()
	seen := a.watched[n]
	a.watched[n] = true
	a.mu.Unlock()
	if seen {
		return
	}
	n.OnConnect(func(s *socketio.Socket) { a.socketConnected(n, s) })
	n.OnDisconnect(func(s *socketio.Socket, reason socketio.DisconnectReason) {
		a.socketDisconnected(n, s, reason)
	})
	if !a.verbose {
		return
	}
	name := n.Name()
	n.OnRoomEvent(func(e socketio.RoomEvent) {
		// Called with the adapter's lock held: emit only queues.
		switch e.Kind {
		case socketio.RoomJoined:
			a.emit("room_joined", name, e.Room, e.Socket, timestamp(time.Now()))
		case socketio.RoomLeft:
			a.emit("room_left", name, e.Room, e.Socket, timestamp(time.Now()))
		}
	})
}

// socketConnected tracks a new local socket and tells the UI.
func (a *Admin) socketConnected(n *socketio.Namespace, s *socketio.Socket) {
	if a.closed.Load() {
		return
	}
	clientID := digest(s.ClientID())
	a.mu.Lock()
	a.sockets[s] = socketState{transport: s.Transport(), client: clientID}
	a.clients[clientID]++
	first := a.clients[clientID] == 1
	a.mu.Unlock()
	if first {
		a.events.push("rawConnection", "", 1)
	}
	if !a.verbose {
		return
	}
	a.emit("socket_connected", serializeLocal(s), timestamp(time.Now()))
	if n == a.nsp {
		return // the UI's own events are not reported, as in Node
	}
	s.OnAny(func(event string, args []any) {
		a.emit("event_received", n.Name(), s.ID(), append([]any{event}, args...), timestamp(time.Now()))
	})
	s.OnAnyOutgoing(func(event string, args []any) {
		a.emit("event_sent", n.Name(), s.ID(), append([]any{event}, args...), timestamp(time.Now()))
	})
}

// socketDisconnected forgets a local socket and tells the UI.
func (a *Admin) socketDisconnected(n *socketio.Namespace, s *socketio.Socket, reason socketio.DisconnectReason) {
	if a.closed.Load() {
		return
	}
	a.mu.Lock()
	st, ok := a.sockets[s]
	last := false
	if ok {
		delete(a.sockets, s)
		a.clients[st.client]--
		if last = a.clients[st.client] <= 0; last {
			delete(a.clients, st.client)
		}
	}
	a.mu.Unlock()
	if last {
		a.events.push("rawDisconnection", string(reason), 1)
	}
	if a.verbose {
		a.emit("socket_disconnected", n.Name(), s.ID(), string(reason), timestamp(time.Now()))
	}
}

// socketState is what the admin keeps of a local socket.
type socketState struct {
	transport string // as last reported to the UI
	client    string // the digest of its client id
}

// digest is the client id shown for an Engine.IO session id: stable for the session, without
// revealing it (a session id lets its holder post to a polling session).
func digest(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return hex.EncodeToString(sum[:6])
}

// serializedSocket is a socket as the UI reads it (Node's serialize()).
type serializedSocket struct {
	ID        string              `json:"id"`
	ClientID  string              `json:"clientId,omitempty"`
	Transport string              `json:"transport,omitempty"`
	Nsp       string              `json:"nsp"`
	Data      json.RawMessage     `json:"data"`
	Handshake serializedHandshake `json:"handshake"`
	Rooms     []string            `json:"rooms"`
}

type serializedHandshake struct {
	Address string            `json:"address"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Issued  int64             `json:"issued"`
	Secure  bool              `json:"secure"`
	Time    string            `json:"time"`
	URL     string            `json:"url"`
	XDomain bool              `json:"xdomain"`
}

func serializeLocal(s *socketio.Socket) serializedSocket {
	out := serialize(s.ID(), s.Namespace().Name(), s.Handshake(), s.Rooms(), s.Data())
	out.ClientID = digest(s.ClientID())
	out.Transport = s.Transport()
	return out
}

func serialize(id, nsp string, hs *socketio.Handshake, rooms []string, data any) serializedSocket {
	out := serializedSocket{ID: id, Nsp: nsp, Data: serializeData(data), Rooms: rooms}
	if out.Rooms == nil {
		out.Rooms = []string{}
	}
	if hs == nil {
		return out
	}
	h := serializedHandshake{
		Address: hs.Address,
		Headers: map[string]string{},
		Query:   map[string]string{},
		Issued:  hs.Time.UnixMilli(),
		Secure:  hs.Secure,
		Time:    hs.Time.UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"),
		URL:     hs.URL,
		XDomain: hs.XDomain,
	}
	for k, v := range hs.Header {
		h.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	for k, v := range hs.Query {
		if len(v) > 0 {
			h.Query[k] = v[0]
		}
	}
	// The address a proxy saw, as Node's instrumentation shows it.
	if v := h.Headers["cf-connecting-ip"]; v != "" {
		h.Address = v
	} else if v := h.Headers["x-forwarded-for"]; v != "" {
		h.Address = v
	}
	out.Handshake = h
	return out
}

// serializeData is the socket's data as JSON, or an empty object when it has none or it does
// not marshal (the UI reads it as an object).
func serializeData(data any) json.RawMessage {
	if data == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(data)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
