package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

var errBadReply = errors.New("the reply does not carry the message sent")

// waitStart blocks until traffic may begin; false means the worker is shutting down.
func (w *worker) waitStart() bool {
	select {
	case <-w.started:
		return true
	case <-w.done:
		return false
	}
}

// payload returns n printable bytes that differ between connections, so a
// reply sent to the wrong connection is noticed.
func payload(conn, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = 'a' + byte((conn+j)%26)
	}
	return b
}

// wsEcho sends Inflight binary messages and sends one more for every
// identical message that comes back.
func (w *worker) wsEcho(i int, c *wsConn) error {
	if !w.waitStart() {
		return nil
	}
	msg := payload(i, w.cfg.Size)
	sent := make([]time.Time, w.cfg.Inflight)
	for k := range sent {
		sent[k] = time.Now()
		if err := c.write(opBinary, msg); err != nil {
			return err
		}
	}
	for k := 0; ; k = (k + 1) % len(sent) {
		op, p, err := c.read()
		if err != nil {
			return err
		}
		if op != opBinary || !bytes.Equal(p, msg) {
			return errBadReply
		}
		now := time.Now()
		w.record(i, now.Sub(sent[k]))
		sent[k] = now
		if err := c.write(opBinary, msg); err != nil {
			return err
		}
	}
}

// sioEcho emits Event with a string Inflight times, and once more for every
// Reply event (or, in the ack scenario, every ack) carrying the same string.
// Events the scenario does not know, such as a greeting on connection, are ignored.
func (w *worker) sioEcho(i int, c *sioConn) error {
	if !w.waitStart() {
		return nil
	}
	arg := payload(i, w.cfg.Size)
	withAck := w.cfg.Scenario == SIOAck
	var want, packet []byte
	if withAck {
		want = []byte(`["` + string(arg) + `"]`)
	} else {
		want = []byte(`["` + w.cfg.Reply + `","` + string(arg) + `"]`)
		packet = c.appendEvent(nil, w.cfg.Event, -1, arg)
	}
	// Ack ids name their slot in sent; without acks, replies come back in order.
	sent := make([]time.Time, w.cfg.Inflight)
	var nextID int64
	emit := func() error {
		if withAck {
			packet = c.appendEvent(packet[:0], w.cfg.Event, nextID, arg)
			sent[nextID%int64(len(sent))] = time.Now()
			nextID++
		}
		return c.write(opText, packet)
	}
	for k := range sent {
		sent[k] = time.Now()
		if err := emit(); err != nil {
			return err
		}
	}
	for k := 0; ; {
		typ, data, err := c.next()
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case withAck && typ == '3':
			id, args, ok := splitAckID(data)
			if !ok || !bytes.Equal(args, want) {
				return fmt.Errorf("%w: ack %q", errBadReply, clip(data))
			}
			w.record(i, now.Sub(sent[id%int64(len(sent))]))
		case !withAck && typ == '2' && bytes.Equal(data, want):
			w.record(i, now.Sub(sent[k]))
			sent[k] = now
			k = (k + 1) % len(sent)
		default:
			continue
		}
		if err := emit(); err != nil {
			return err
		}
	}
}

// broadcastArg is the publisher's argument: "seq:unixnano:" padded to size,
// so that every subscriber can tell which broadcast it got and when it left.
func broadcastArg(b []byte, seq int64, sentAt time.Time, size int) []byte {
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, sentAt.UnixNano(), 10)
	b = append(b, ':')
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

func parseBroadcastArg(p []byte) (seq, sentAt int64, ok bool) {
	seq, rest, ok1 := leadingInt(p)
	sentAt, _, ok2 := leadingInt(rest)
	return seq, sentAt, ok1 && ok2
}

// leadingInt parses the digits before p's first ':' and returns what follows it; it
// allocates nothing, as it runs for every delivery a subscriber receives.
func leadingInt(p []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for ; i < len(p) && i < 19 && p[i] >= '0' && p[i] <= '9'; i++ {
		n = n*10 + int64(p[i]-'0')
	}
	if i == 0 || i >= len(p) || p[i] != ':' {
		return 0, nil, false
	}
	return n, p[i+1:], true
}

// subscribe counts the broadcasts this connection receives; the last of the
// worker's subscribers to get one reports it to the coordinator, which sends
// the next one then.
func (w *worker) subscribe(c *sioConn) error {
	prefix := []byte(`["` + w.cfg.Reply + `","`)
	for {
		typ, data, err := c.next()
		if err != nil {
			return err
		}
		if typ != '2' || !bytes.HasPrefix(data, prefix) {
			continue
		}
		seq, sentAt, ok := parseBroadcastArg(data[len(prefix):])
		if !ok || seq < 0 {
			return fmt.Errorf("%w: %q", errBadReply, clip(data))
		}
		lat := time.Now().UnixNano() - sentAt
		if w.counting.Load() {
			w.ops.Add(1)
		}
		slot := &w.slots[seq%int64(len(w.slots))]
		storeMax(&slot.last, lat)
		if slot.count.Add(1) == int64(w.a.Count) {
			lat := slot.last.Swap(0)
			slot.count.Store(0)
			w.send(report{Kind: "bdone", Seq: seq, Lat: lat})
		}
	}
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// idle reads until the connection ends, answering the server's pings.
func (w *worker) idle(ws *wsConn, sio *sioConn) error {
	for {
		var err error
		if sio != nil {
			_, _, err = sio.next()
		} else {
			_, _, err = ws.read()
		}
		if err != nil {
			return err
		}
	}
}

// startConnecting starts the worker's share of the connect loops. Without
// Hold each loop opens and closes connections until stopped; with Hold the
// loops open the worker's share of Total and keep them.
func (w *worker) startConnecting(ctx context.Context) {
	cfg := w.cfg
	share := int64(w.a.Hold)
	var opened atomic.Int64
	for k := range w.a.Count {
		loop := w.a.First + k
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for n := 0; !w.stopping.Load(); n++ {
				if cfg.Hold && w.held.Add(1) > share {
					return
				}
				start := time.Now()
				ws, sio, err := w.handshake(ctx, loop+n*cfg.Conns)
				if err != nil {
					w.fail(err)
					select { // a refusing server must not turn the loop into a spin
					case <-time.After(10 * time.Millisecond):
					case <-w.done:
					}
					continue
				}
				w.record(loop, time.Since(start))
				if !cfg.Hold {
					ws.close()
					continue
				}
				if !w.keep(ws) {
					return
				}
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					if err := w.idle(ws, sio); err != nil {
						w.fail(err)
					}
				}()
				if opened.Add(1) == share {
					w.send(report{Kind: "done"})
				}
			}
		}()
	}
}

func (w *worker) handshake(ctx context.Context, i int) (*wsConn, *sioConn, error) {
	cfg := w.cfg
	if cfg.Proto == "ws" {
		ws, err := cfg.dialWebSocket(ctx, i)
		return ws, nil, err
	}
	sio, err := cfg.dialSocketIO(ctx, i)
	if err != nil {
		return nil, nil, err
	}
	return sio.wsConn, sio, nil
}
