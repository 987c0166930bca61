package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// sioConn is a Socket.IO client over the WebSocket transport, connected to
// one namespace. It knows the few packets the scenarios use and answers the
// server's Engine.IO pings as it reads.
type sioConn struct {
	*wsConn
	nsp string // "" for the main namespace, else "/name,"
}

// ErrDisconnected is returned when the server disconnects the socket from its namespace.
var ErrDisconnected = errors.New("the server disconnected the socket")

// dialSocketIO opens connection i, performs the WebSocket and Engine.IO
// handshakes and connects to namespace.
func dialSocketIO(ctx context.Context, d dialer, i int, host, path, namespace string, bufSize int, timeout time.Duration) (*sioConn, error) {
	c := &sioConn{}
	if namespace != "" && namespace != "/" {
		c.nsp = namespace + ","
	}
	_, err := dialWebSocket(ctx, d, i, host, path+"?EIO=4&transport=websocket", bufSize, timeout, func(ws *wsConn) error {
		c.wsConn = ws
		return c.connect()
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *sioConn) connect() error {
	if _, p, err := c.wsConn.read(); err != nil {
		return fmt.Errorf("engine.io handshake: %w", err)
	} else if len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("engine.io handshake: expected an open packet, got %q", clip(p))
	}
	if err := c.wsConn.write(opText, []byte("40"+c.nsp)); err != nil {
		return err
	}
	for {
		typ, data, err := c.next()
		if err != nil {
			return fmt.Errorf("socket.io connect: %w", err)
		}
		switch typ {
		case '0':
			return nil
		case '4':
			return fmt.Errorf("socket.io connect refused: %s", clip(data))
		}
	}
}

// next returns the type and data of the next Socket.IO packet for this
// namespace (ack id included in data for acks), answering pings on the way.
func (c *sioConn) next() (typ byte, data []byte, err error) {
	for {
		op, p, err := c.wsConn.read()
		if err != nil {
			return 0, nil, err
		}
		if op != opText || len(p) == 0 {
			continue // binary attachments are not used by the scenarios
		}
		switch p[0] {
		case '2': // ping
			if err := c.wsConn.write(opText, []byte{'3'}); err != nil {
				return 0, nil, err
			}
			continue
		case '1':
			return 0, nil, ErrServerClosed
		case '4':
		default:
			continue
		}
		if len(p) < 2 {
			continue
		}
		typ, rest := p[1], p[2:]
		if len(rest) > 0 && rest[0] == '/' {
			i := bytes.IndexByte(rest, ',')
			if i < 0 || c.nsp == "" || string(rest[:i+1]) != c.nsp {
				continue
			}
			rest = rest[i+1:]
		} else if c.nsp != "" {
			continue
		}
		if typ == '1' {
			return 0, nil, ErrDisconnected
		}
		return typ, rest, nil
	}
}

// appendEvent appends to b an EVENT packet with one string argument, with
// ack id id when id >= 0. Reusing b, a steady run allocates nothing per message.
func (c *sioConn) appendEvent(b []byte, event string, id int64, arg []byte) []byte {
	b = append(b, "42"...)
	b = append(b, c.nsp...)
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, `["`...)
	b = append(b, event...)
	b = append(b, `","`...)
	b = append(b, arg...)
	return append(b, `"]`...)
}

// splitAckID splits an ACK packet's data into its id and arguments.
func splitAckID(data []byte) (id int64, args []byte, ok bool) {
	i := 0
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		id = id*10 + int64(data[i]-'0')
		i++
	}
	return id, data[i:], i > 0
}

func clip(p []byte) string {
	if len(p) > 80 {
		return string(p[:80]) + "…"
	}
	return string(p)
}
