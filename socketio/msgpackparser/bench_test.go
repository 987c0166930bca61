package msgpackparser

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// The MessagePack parser beside the JSON one (socketio.JSONParser, the protocol's, through
// the same interface), encoding and decoding the events a server handles most: an event of a
// few values, and one with a binary value of 1 KiB. Decoding with MessagePack also converts
// the data to JSON; the server then checks it as it checks the JSON parser's packets (socketio's
// BenchmarkFromWire), which the JSON parser does while decoding.

var benchParsers = []struct {
	name   string
	parser socketio.Parser
}{
	{"JSON", socketio.JSONParser{}},
	{"MessagePack", Parser{}},
}

var benchPackets = []struct {
	name string
	p    socketio.WirePacket
}{
	{"Event", socketio.WirePacket{Type: socketio.PacketEvent, Namespace: "/", ID: -1,
		Data: json.RawMessage(`["order",{"symbol":"ACME","qty":10,"price":101.25},"rush"]`)}},
	{"BinaryEvent", socketio.WirePacket{Type: socketio.PacketBinaryEvent, Namespace: "/", ID: 12,
		Data:        json.RawMessage(`["upload",{"name":"a.png","size":1024,"file":{"_placeholder":true,"num":0}}]`),
		Attachments: [][]byte{bytes.Repeat([]byte{0xab}, 1024)}}},
}

func BenchmarkEncode(b *testing.B) {
	for _, pc := range benchPackets {
		for _, pr := range benchParsers {
			b.Run(pc.name+"/"+pr.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := pr.parser.Encode(&pc.p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, pc := range benchPackets {
		for _, pr := range benchParsers {
			b.Run(pc.name+"/"+pr.name, func(b *testing.B) {
				ms, err := pr.parser.Encode(&pc.p)
				if err != nil {
					b.Fatal(err)
				}
				size := 0
				for _, m := range ms {
					size += len(m.Data)
				}
				d := pr.parser.NewDecoder(socketio.DecoderLimits{MaxAttachments: 10})
				b.ReportAllocs()
				for b.Loop() {
					var p *socketio.WirePacket
					for _, m := range ms {
						if p, err = d.Decode(engineio.Message{Data: m.Data, Binary: m.Binary}); err != nil {
							b.Fatal(err)
						}
					}
					if p == nil {
						b.Fatal("no packet")
					}
				}
				b.ReportMetric(float64(size), "wire-bytes")
			})
		}
	}
}
