package engineio

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tether-rt/tether/websocket"
)

// dialWebSocket opens a WebSocket to the endpoint, joining the session once there is one.
func (c *Client) dialWebSocket(ctx context.Context) (*websocket.Conn, error) {
	opts := c.wsOpts
	wsURL := c.url(TransportWebSocket)
	var cookieURL *url.URL
	if c.jar != nil {
		// The jar knows the server by its http(s) URL, as the polls reach it.
		cookieURL = &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: c.base.Path}
		if cookies := c.jar.Cookies(cookieURL); len(cookies) > 0 {
			opts.Header = opts.Header.Clone()
			parts := opts.Header.Values("Cookie") // one header, as net/http sends them
			for _, ck := range cookies {
				parts = append(parts, ck.Name+"="+ck.Value)
			}
			opts.Header.Set("Cookie", strings.Join(parts, "; "))
		}
	}
	conn, resp, err := websocket.Dial(ctx, wsURL, &opts)
	if c.jar != nil && resp != nil {
		if cookies := resp.Cookies(); len(cookies) > 0 {
			c.jar.SetCookies(cookieURL, cookies)
		}
	}
	if err != nil {
		var he *websocket.HandshakeError
		if errors.As(err, &he) && he.StatusCode != 101 {
			return nil, newHandshakeError(he.StatusCode, he.Body)
		}
		return nil, fmt.Errorf("engineio: %w", err)
	}
	return conn, nil
}

// openWebSocket performs the handshake over WebSocket: the open packet is the first message.
func (c *Client) openWebSocket(ctx context.Context) error {
	conn, err := c.dialWebSocket(ctx)
	if err != nil {
		return err
	}
	typ, data, err := conn.Read(ctx)
	if err == nil {
		err = c.applyWebSocketOpen(typ, data)
	}
	if err != nil {
		_ = conn.CloseNow()
		return fmt.Errorf("engineio: handshake: %w", err)
	}
	c.ws = conn
	return nil
}

func (c *Client) applyWebSocketOpen(typ websocket.MessageType, data []byte) error {
	if typ != websocket.MessageText {
		return fmt.Errorf("%w: binary message", errBadHandshake)
	}
	p, err := decodeText(data, false)
	if err != nil || p.typ != packetOpen {
		return fmt.Errorf("%w: %q", errBadHandshake, data)
	}
	return c.applyOpen(p.data)
}

// startWebSocket makes conn the transport and starts its reader and writer.
func (c *Client) startWebSocket(conn *websocket.Conn) {
	c.mu.Lock()
	c.transport = TransportWebSocket
	c.ws = conn
	c.mu.Unlock()
	c.wg.Add(2)
	go c.wsReader(conn)
	go c.wsWriter(conn)
}

// upgrade moves the session from long-polling to WebSocket: it probes a WebSocket, pauses
// polling once nothing is in flight, sends the upgrade packet and starts the WebSocket
// transport. If the probe fails, the session stays on long-polling.
func (c *Client) upgrade(poll *clientPoll) {
	defer c.wg.Done()
	conn := c.probe()
	if conn == nil {
		close(poll.probed)
		return
	}
	// The server answers the probe with a noop on the poll in flight, so the reader stops soon.
	close(poll.pause)
	close(poll.probed)
	for _, stopped := range []chan struct{}{poll.reader, poll.writer} {
		select {
		case <-stopped:
		case <-c.done:
			_ = conn.CloseNow()
			return
		}
	}
	select {
	case <-c.flushed: // the polling writer already sent the close packet
		_ = conn.CloseNow()
		return
	default:
	}
	ctx, cancel := context.WithTimeout(c.ctx, clientProbeTimeout)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte{'0' + byte(packetUpgrade)}); err != nil {
		_ = conn.CloseNow()
		if c.ctx.Err() == nil {
			c.startPolling(nil, false)
		}
		return
	}
	c.mu.Lock()
	closed := c.err != nil
	c.mu.Unlock()
	if closed {
		_ = conn.CloseNow()
		return
	}
	c.startWebSocket(conn)
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections() // polling is over
	}
}

// probe opens a WebSocket for the session and checks the server answers "2probe" with
// "3probe" on it. It returns nil if anything goes wrong.
func (c *Client) probe() *websocket.Conn {
	ctx, cancel := context.WithTimeout(c.ctx, clientProbeTimeout)
	defer cancel()
	conn, err := c.dialWebSocket(ctx)
	if err != nil {
		return nil
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte("2probe")); err == nil {
		typ, data, err := conn.Read(ctx)
		if err == nil && typ == websocket.MessageText && string(data) == "3probe" {
			return conn
		}
	}
	_ = conn.CloseNow()
	return nil
}

// wsReader reads packets from conn, one message each, and hands them to handle.
func (c *Client) wsReader(conn *websocket.Conn) {
	defer c.wg.Done()
	for {
		typ, data, err := conn.Read(c.ctx)
		if err != nil {
			c.failTransport(wsReason(err), err)
			return
		}
		p := packet{typ: packetMessage, data: data, binary: true}
		if typ == websocket.MessageText {
			if p, err = decodeText(data, false); err != nil {
				c.failTransport(CloseParseError, err)
				return
			}
		}
		if c.handle(p) != nil {
			return
		}
	}
}

// wsWriter writes queued packets to conn, one message each. Once Close was called it writes
// what is left and the close packet, then closes conn.
func (c *Client) wsWriter(conn *websocket.Conn) {
	defer c.wg.Done()
	var buf []byte
	write := func(p packet) bool {
		var err error
		if p.binary {
			err = conn.Write(c.ctx, websocket.MessageBinary, p.data)
		} else {
			buf = p.appendText(buf[:0])
			err = conn.Write(c.ctx, websocket.MessageText, buf)
		}
		if err != nil {
			c.failTransport(wsReason(err), err)
			return false
		}
		if cap(buf) > 64<<10 {
			buf = nil // keep no large buffer while idle
		}
		return true
	}
	if p := c.carry; p != nil {
		c.carry = nil
		if !write(*p) {
			return
		}
	}
	for {
		var p packet
		select {
		case p = <-c.ctrlq:
		case p = <-c.sendq:
		case <-c.done:
			return
		case <-c.closing:
			c.wsFlush(conn, write)
			return
		}
		if !write(p) {
			return
		}
	}
}

// wsFlush writes the packets still queued and the close packet, then closes conn.
func (c *Client) wsFlush(conn *websocket.Conn, write func(packet) bool) {
	for {
		var p packet
		select {
		case p = <-c.ctrlq:
		case p = <-c.sendq:
		default:
			if write(packet{typ: packetClose}) {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				c.markFlushed()
			}
			return
		}
		if !write(p) {
			return
		}
	}
}

// wsReason maps the error that ended a WebSocket transport to a close reason.
func wsReason(err error) CloseReason {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch {
		case !ce.Local:
			return CloseTransportClose
		case ce.Code == websocket.StatusMessageTooBig:
			return ClosePayloadTooLarge
		}
	}
	return CloseTransportError
}
