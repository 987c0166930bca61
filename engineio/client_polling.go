package engineio

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// clientPoll is one run of the long-polling reader and writer. An upgrade closes pause and
// waits for both to stop: the reader after the poll in flight returns, the writer after the
// request in flight, so that no packet is lost or sent twice across the switch.
//
// The server releases the poll in flight with a noop once it has answered the probe. A reader
// that polled again at once would wait for the server's next packet, possibly past the upgrade
// timeout, so after a noop the reader waits for the probe's outcome (probed) first.
type clientPoll struct {
	pause  chan struct{}
	probed chan struct{} // closed once a probe succeeded (after pause) or failed; nil if none
	reader chan struct{} // closed once the reader has stopped
	writer chan struct{} // closed once the writer has stopped
}

// openPolling performs the handshake over long-polling. It returns the packets that followed
// the open packet in the same response.
func (c *Client) openPolling(ctx context.Context) ([]packet, error) {
	body, status, err := c.roundTrip(ctx, http.MethodGet, nil)
	if err != nil {
		return nil, fmt.Errorf("engineio: handshake: %w", err)
	}
	if status != http.StatusOK {
		return nil, newHandshakeError(status, body)
	}
	var pkts []packet
	err = decodePayload(body, func(p packet) error {
		pkts = append(pkts, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	if pkts[0].typ != packetOpen {
		return nil, fmt.Errorf("%w: first packet is %v", errBadHandshake, pkts[0].typ)
	}
	if err := c.applyOpen(pkts[0].data); err != nil {
		return nil, err
	}
	return pkts[1:], nil
}

// roundTrip sends one long-polling request and returns the response body, read whole up to
// the read limit, and status.
func (c *Client) roundTrip(ctx context.Context, method string, body []byte) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(TransportPolling), rd)
	if err != nil {
		return nil, 0, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.readLimit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) > c.readLimit {
		return nil, 0, errClientTooLong
	}
	return b, resp.StatusCode, nil
}

// startPolling starts a long-polling reader, which first handles initial, and writer. With
// probe set, an upgrade will follow.
func (c *Client) startPolling(initial []packet, probe bool) *clientPoll {
	c.mu.Lock()
	c.transport = TransportPolling
	c.mu.Unlock()
	poll := &clientPoll{pause: make(chan struct{}), reader: make(chan struct{}), writer: make(chan struct{})}
	if probe {
		poll.probed = make(chan struct{})
	}
	c.wg.Add(2)
	go c.pollReader(poll, initial)
	go c.pollWriter(poll)
	return poll
}

// pollReader keeps one GET request in flight and hands the packets it returns to handle.
func (c *Client) pollReader(poll *clientPoll, initial []packet) {
	defer c.wg.Done()
	defer close(poll.reader)
	for _, p := range initial {
		if c.handle(p) != nil {
			return
		}
	}
	for {
		select {
		case <-poll.pause:
			return
		case <-c.done:
			return
		default:
		}
		body, status, err := c.roundTrip(c.ctx, http.MethodGet, nil)
		if err == nil && status != http.StatusOK {
			err = pollStatusError(status, body)
		}
		if err != nil {
			c.failTransport(pollReason(err), err)
			return
		}
		noop := false
		err = decodePayload(body, func(p packet) error {
			noop = noop || p.typ == packetNoop
			return c.handle(p)
		})
		if errors.Is(err, errClientDone) {
			return
		}
		if err != nil {
			c.failTransport(CloseParseError, err)
			return
		}
		if noop && poll.probed != nil {
			select {
			case <-poll.probed:
			case <-c.done:
				return
			}
		}
	}
}

// pollWriter sends queued packets, as many per POST request as the server's maxPayload
// allows, one request at a time. Once Close was called it sends what is left, then the close
// packet.
func (c *Client) pollWriter(poll *clientPoll) {
	defer c.wg.Done()
	defer close(poll.writer)
	var batch []packet
	var body []byte
	for {
		select {
		case <-poll.pause:
			return
		default:
		}
		batch = batch[:0]
		if c.carry != nil {
			batch = append(batch, *c.carry)
			c.carry = nil
		} else {
			select {
			case <-poll.pause:
				return
			case <-c.done:
				return
			case p := <-c.ctrlq:
				batch = append(batch, p)
			case p := <-c.sendq:
				batch = append(batch, p)
			case <-c.closing:
			}
		}
		batch, last := c.fillBatch(batch)
		body = appendPayload(body[:0], batch)
		resp, status, err := c.roundTrip(c.ctx, http.MethodPost, body)
		if err == nil && status != http.StatusOK {
			err = pollStatusError(status, resp)
		}
		if err != nil {
			c.failTransport(pollReason(err), err)
			return
		}
		if last {
			c.markFlushed()
			return
		}
		if len(body) > 64<<10 {
			body = nil // keep no large buffer while idle
		}
	}
}

// clientMaxBatch bounds the packets of one POST: python-engineio refuses a payload of more
// than 16 ("Too many packets in payload"), and the protocol sets no bound.
const clientMaxBatch = 16

// fillBatch adds queued packets to batch, pongs first, while the payload stays within the
// server's maxPayload and clientMaxBatch packets; a packet that does not fit waits in c.carry. Once Close was called and
// the queues are empty, it adds the close packet and reports it is the last batch.
func (c *Client) fillBatch(batch []packet) ([]packet, bool) {
	size := 0
	for _, p := range batch {
		size += clientPollSize(p) + 1
	}
	for {
		if len(batch) >= clientMaxBatch {
			return batch, false
		}
		var p packet
		select {
		case p = <-c.ctrlq:
		default:
			select {
			case p = <-c.sendq:
			default:
				if !c.isClosing() {
					return batch, false
				}
				if len(batch) > 0 && size+1 > c.maxPayload {
					return batch, false
				}
				return append(batch, packet{typ: packetClose}), true
			}
		}
		n := clientPollSize(p) + 1
		if len(batch) > 0 && size+n-1 > c.maxPayload {
			c.carry = &p
			return batch, false
		}
		batch = append(batch, p)
		size += n
	}
}

// clientPollSize is the length of p in a long-polling payload.
func clientPollSize(p packet) int {
	if p.binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.data))
	}
	return 1 + len(p.data)
}

// pollStatusError describes a long-polling request the server refused.
func pollStatusError(status int, body []byte) error {
	e := newHandshakeError(status, body)
	return fmt.Errorf("engineio: polling request failed: %d %s (code %d)", e.StatusCode, e.Message, e.Code)
}

// pollReason maps a failed long-polling request to a close reason.
func pollReason(err error) CloseReason {
	if errors.Is(err, errClientTooLong) {
		return ClosePayloadTooLarge
	}
	return CloseTransportError
}
