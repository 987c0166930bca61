package redis

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tether-rt/tether/socketio"
)

// BenchmarkEncodeBroadcast measures what a node does per broadcast for the other nodes:
// turn the packet into the MessagePack message Node's adapter expects.
func BenchmarkEncodeBroadcast(b *testing.B) {
	p, err := socketio.NewPacket("/", "price", map[string]any{"symbol": "ACME", "price": 101.25, "ts": 1700000000000}, []byte{1, 2, 3})
	if err != nil {
		b.Fatal(err)
	}
	opts := optionsValue(socketio.BroadcastOptions{Rooms: []string{"ACME"}})
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		pv, err := packetValue(p)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := array(str("abc123"), pv, opts).encodeMsgpack(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBroadcast measures the receiving side: a Node-encoded broadcast to the packet
// the local sockets get.
func BenchmarkDecodeBroadcast(b *testing.B) {
	raw, _ := hex.DecodeString(notepackBroadcast)
	host := testHost(b, "/chat")
	b.ReportAllocs()
	for b.Loop() {
		msg, err := decodeMsgpack(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eventPacket(host, msg.items[1]); err != nil {
			b.Fatal(err)
		}
		_ = broadcastOptions(msg.items[2])
	}
}
