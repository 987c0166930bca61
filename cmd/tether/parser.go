package main

import (
	"flag"
	"fmt"

	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/msgpackparser"
)

// The --parser flag of testserver and connect: the wire format of Socket.IO packets.

const parserUsage = "Socket.IO packet `format`: json, the protocol's, or msgpack, that of npm's\nsocket.io-msgpack-parser"

func addParserFlag(fs *flag.FlagSet) *string {
	return fs.String("parser", "json", parserUsage)
}

// parserNamed returns the socketio.Parser for a --parser value: nil for JSON.
func parserNamed(name string) (socketio.Parser, error) {
	switch name {
	case "json":
		return nil, nil
	case "msgpack":
		return msgpackparser.Parser{}, nil
	}
	return nil, fmt.Errorf("--parser %q: want json or msgpack", name)
}
