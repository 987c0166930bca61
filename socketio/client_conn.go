package socketio

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// clientConn is one Engine.IO connection of a Client, with its reader. A reconnection makes a
// new one.
type clientConn struct {
	c        *Client
	eio      *engineio.Client
	dec      packetReader // the reader's
	sendMu   sync.Mutex   // keeps a packet's text and attachments together on the wire
	released atomic.Bool  // closed on purpose, with no socket left: no reconnection
	parseErr atomic.Bool  // closed by the reader on an invalid packet
}

func newClientConn(c *Client, eio *engineio.Client) *clientConn {
	return &clientConn{c: c, eio: eio, dec: newPacketReader(c.wire, c.opts.MaxAttachments, c.maxValues)}
}

// send writes a packet: its text message, then its attachments.
func (cc *clientConn) send(p *packet) error {
	if w := cc.c.wire; w != nil {
		return cc.sendEncoded(w, p)
	}
	text := p.appendText(nil)
	cc.sendMu.Lock()
	defer cc.sendMu.Unlock()
	// Send waits only while Engine.IO's queue is full, until the connection closes: a server
	// that stops reading stops answering pings too.
	ctx := context.Background()
	if err := cc.eio.Send(ctx, text, false); err != nil {
		return err
	}
	for _, a := range p.attachments {
		if err := cc.eio.Send(ctx, a, true); err != nil {
			return err
		}
	}
	return nil
}

func (cc *clientConn) close() { cc.eio.Close() }

// readLoop decodes the server's packets and hands each to its namespace's socket, until the
// connection ends; then it tells the client.
func (cc *clientConn) readLoop() {
	defer cc.c.wg.Done()
	for {
		m, err := cc.eio.Read(context.Background())
		if err != nil {
			cc.c.connLost(cc, err)
			return
		}
		p, err := cc.dec.read(m)
		if err != nil {
			cc.c.opts.Logger.Info("socketio: invalid packet from the server, closing the connection", logattr.Err, err)
			cc.parseErr.Store(true)
			cc.eio.Close()
			continue // Read now reports the close
		}
		if p == nil {
			continue // attachments to come
		}
		if s := cc.c.socket(p.nsp); s != nil {
			s.receive(cc, p)
		}
	}
}

// disconnectReason maps why an Engine.IO connection ended to what sockets report.
func disconnectReason(err error) DisconnectReason {
	var ce *engineio.CloseError
	if !errors.As(err, &ce) {
		return ReasonTransportError
	}
	switch ce.Reason {
	case engineio.ClosePingTimeout:
		return ReasonPingTimeout
	case engineio.CloseTransportClose, engineio.CloseServerShutdown:
		return ReasonTransportClose
	case engineio.CloseClientClose:
		return ReasonIOClientDisconnect
	}
	return ReasonTransportError
}

// connLost is called by a connection's reader once it has ended: the sockets on it
// disconnect, and the client reconnects, closes, or (when the connection was released on
// purpose) does nothing.
func (c *Client) connLost(cc *clientConn, err error) {
	reason := disconnectReason(err)
	if cc.parseErr.Load() {
		reason = ReasonParseError
	}
	c.mu.Lock()
	if c.conn == cc {
		c.conn = nil
	}
	closed := c.closed
	c.mu.Unlock()
	if closed || cc.released.Load() {
		return
	}
	c.opts.Logger.Debug("socketio: client connection lost", logattr.Reason, reason, logattr.Err, err)
	c.hookError(&ConnectionLostError{Reason: reason, Err: err})
	for _, s := range c.activeSockets() {
		s.connLost(cc, reason)
	}
	if c.opts.DisableReconnection {
		c.shutdown(&ConnectionLostError{Reason: reason, Err: err}, reason, false)
		return
	}
	c.startReconnecting(reason, err)
}

// ConnectionLostError is the Err of a Client that closed after losing its connection, with
// reconnection off or out of attempts.
type ConnectionLostError struct {
	Reason DisconnectReason
	Err    error // the error that ended the connection, or the last reconnection attempt's
}

func (e *ConnectionLostError) Error() string {
	if e.Err == nil {
		return "socketio: connection lost: " + string(e.Reason)
	}
	return "socketio: connection lost: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }
