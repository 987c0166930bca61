package redis

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// The shapes Node's adapters exchange, shared by the classic and the cluster formats: a
// Socket.IO packet ({type, data, nsp}), broadcast options ({rooms, except, flags}), a socket
// as fetchSockets describes it ({id, handshake, rooms, data}).

// packetEvent is socket.io-parser's EVENT type. Node sends events with binary as EVENT too
// (the encoder makes them BINARY_EVENT on the way to a client), and so do we.
const (
	packetEvent       = 2
	packetBinaryEvent = 5
)

// ErrTimeout is returned, wrapped, when other nodes do not all answer a request in time.
var ErrTimeout = errors.New("redis adapter: other nodes did not answer in time")

// decodeMessage decodes a message in JSON or MessagePack: Node's adapters send both, and a
// JSON message is an object, so it starts with '{', which no MessagePack map does.
func decodeMessage(payload []byte) (value, error) {
	if len(payload) > 0 && payload[0] == '{' {
		return decodeJSON(payload)
	}
	return decodeMsgpack(payload)
}

// loggerFor returns the adapter's own logger, or the server's: the adapters log where the rest
// of the server does unless told otherwise, and are as quiet as the server without a logger.
func loggerFor(own *slog.Logger, host socketio.AdapterHost) *slog.Logger {
	if own != nil {
		return own
	}
	return host.Logger()
}

// randomID returns n random bytes in hex: the adapters' node ids and request ids.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// packetValue describes a packet to other nodes.
func packetValue(p *socketio.Packet) (value, error) {
	data, err := fromData(p.Data(), p.Attachments())
	if err != nil {
		return value{}, err
	}
	return object("type", integer(packetEvent), "data", data, "nsp", str(p.Namespace())), nil
}

// eventPacket makes the packet another node described, for host's namespace.
func eventPacket(host socketio.AdapterHost, v value) (*socketio.Packet, error) {
	if t, _ := v.field("type").int(); t != packetEvent && t != packetBinaryEvent {
		return nil, fmt.Errorf("packet of type %d, not an event", t)
	}
	d := v.field("data")
	if d.kind != kindArray || len(d.items) == 0 {
		return nil, errors.New("event packet without data")
	}
	data, attachments := d.toData()
	return host.PacketFromData(data, attachments)
}

// packetNamespace returns a packet's namespace, "/" when it has none (Node leaves it out).
func packetNamespace(v value) string {
	if s, ok := v.field("nsp").text(); ok {
		return s
	}
	return "/"
}

// optionsValue describes broadcast options as Node encodes them.
func optionsValue(o socketio.BroadcastOptions) value {
	flags := object()
	if o.Flags.Volatile {
		flags.set("volatile", boolean(true))
	}
	if o.Flags.Uncompressed {
		flags.set("compress", boolean(false))
	}
	if o.Flags.Local {
		flags.set("local", boolean(true))
	}
	if o.Flags.Timeout > 0 {
		flags.set("timeout", integer(o.Flags.Timeout.Milliseconds()))
	}
	return object("rooms", strs(nonNil(o.Rooms)), "except", strs(nonNil(o.Except)), "flags", flags)
}

// roomsValue describes rooms and except only, as Node's requests do.
func roomsValue(o socketio.BroadcastOptions) value {
	return object("rooms", strs(nonNil(o.Rooms)), "except", strs(nonNil(o.Except)))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// broadcastOptions reads broadcast options another node sent. Local is never set: the
// sending node meant its own sockets, and these are the receiving node's.
func broadcastOptions(v value) socketio.BroadcastOptions {
	flags := v.field("flags")
	o := socketio.BroadcastOptions{
		Rooms:  v.field("rooms").stringList(),
		Except: v.field("except").stringList(),
	}
	o.Flags.Volatile = flags.field("volatile").truthy()
	if c, ok := flags.get("compress"); ok && c.kind == kindBool && !c.b {
		o.Flags.Uncompressed = true
	}
	if ms, ok := flags.field("timeout").int(); ok && ms > 0 {
		o.Flags.Timeout = time.Duration(ms) * time.Millisecond
	}
	return o
}

// firstArg is what a Node cluster carries of an acknowledgement: its first argument only.
func firstArg(a socketio.Args) (value, error) {
	if a.Len() == 0 {
		return value{}, nil
	}
	v, err := decodeJSON(a.Raw(0))
	if err != nil {
		return value{}, err
	}
	return v.resolve(a.Attachments())
}

// argsOf makes the one-argument Args of an acknowledgement another node forwarded.
func argsOf(host socketio.AdapterHost, v value) (socketio.Args, error) {
	data, attachments := array(v).toData()
	return host.ArgsFromData(data, attachments)
}

// socketValue describes a local socket for another node's fetchSockets.
func socketValue(s socketio.SocketInfo) value {
	data, err := fromAny(s.Data)
	if err != nil {
		data = value{}
	}
	return object(
		"id", str(s.ID),
		"handshake", handshakeValue(s.Handshake),
		"rooms", strs(nonNil(s.Rooms)),
		"data", data,
	)
}

// handshakeValue describes a handshake the way Node's socket.handshake looks.
func handshakeValue(h *socketio.Handshake) value {
	if h == nil {
		return object()
	}
	headers := object()
	for k, vs := range h.Header {
		headers.set(strings.ToLower(k), str(strings.Join(vs, ", ")))
	}
	query := object()
	for k, vs := range h.Query {
		if len(vs) == 1 {
			query.set(k, str(vs[0]))
		} else {
			query.set(k, strs(vs))
		}
	}
	auth := object()
	if len(h.Auth) > 0 {
		if a, err := decodeJSON(h.Auth); err == nil {
			auth = a
		}
	}
	return object(
		"headers", headers,
		"time", str(h.Time.Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)")),
		"address", str(h.Address),
		"xdomain", boolean(h.XDomain),
		"secure", boolean(h.Secure),
		"issued", integer(h.Time.UnixMilli()),
		"url", str(h.URL),
		"query", query,
		"auth", auth,
	)
}

// handshakeOf reads a handshake another node described.
func handshakeOf(v value) *socketio.Handshake {
	h := &socketio.Handshake{Header: http.Header{}, Query: url.Values{}}
	hs := v.field("headers")
	for i, k := range hs.keys {
		if s, ok := hs.items[i].text(); ok {
			h.Header.Set(k, s)
		} else {
			for _, s := range hs.items[i].stringList() {
				h.Header.Add(k, s)
			}
		}
	}
	q := v.field("query")
	for i, k := range q.keys {
		if s, ok := q.items[i].text(); ok {
			h.Query.Set(k, s)
		} else {
			h.Query[k] = q.items[i].stringList()
		}
	}
	if a := v.field("auth"); a.kind == kindObject {
		h.Auth = json.RawMessage(a.json())
	}
	h.Address, _ = v.field("address").text()
	h.URL, _ = v.field("url").text()
	h.Secure = v.field("secure").truthy()
	h.XDomain = v.field("xdomain").truthy()
	if ms, ok := v.field("issued").int(); ok {
		h.Time = time.UnixMilli(ms)
	}
	return h
}

// socketInfoOf reads a socket another node described.
func socketInfoOf(host socketio.AdapterHost, v value) (socketio.SocketInfo, bool) {
	id, ok := v.field("id").text()
	if !ok {
		return socketio.SocketInfo{}, false
	}
	return host.RemoteSocket(id, handshakeOf(v.field("handshake")), v.field("rooms").stringList(), v.field("data").toAny()), true
}

// eventData is the [event, args...] array of a server-side emit.
func eventData(p *socketio.Packet) (value, error) {
	return fromData(p.Data(), p.Attachments())
}

// serverSidePacket makes the packet of a server-side emit another node sent.
func serverSidePacket(host socketio.AdapterHost, data value) (*socketio.Packet, error) {
	if data.kind != kindArray || len(data.items) == 0 {
		return nil, errors.New("server-side emit without an event")
	}
	raw, attachments := data.toData()
	return host.PacketFromData(raw, attachments)
}
