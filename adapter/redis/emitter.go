package redis

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/socketio"
)

// emitterUID is the node id Node's emitter puts in its messages.
const emitterUID = "emitter"

// EmitterOptions configure an Emitter.
type EmitterOptions struct {
	// Key prefixes the channel names; default "socket.io", as for the adapter.
	Key string
}

// Emitter sends events to the sockets of a cluster from a process that runs no Socket.IO
// server (a worker, a cron job), through the Redis the nodes' adapters (NewAdapter, or Node's
// @socket.io/redis-adapter) share. It speaks the format of Node's @socket.io/redis-emitter,
// version 5. An Emitter is a value for one namespace; it is safe for concurrent use.
type Emitter struct {
	client goredis.UniversalClient
	key    string
	nsp    string
}

// NewEmitter returns an emitter for the main namespace, "/".
func NewEmitter(client goredis.UniversalClient, opts *EmitterOptions) *Emitter {
	key := "socket.io"
	if opts != nil && opts.Key != "" {
		key = opts.Key
	}
	return &Emitter{client: client, key: key, nsp: "/"}
}

// Of returns an emitter for namespace nsp.
func (e *Emitter) Of(nsp string) *Emitter {
	if len(nsp) == 0 || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return &Emitter{client: e.client, key: e.key, nsp: nsp}
}

func (e *Emitter) op() EmitOperator { return EmitOperator{e: e} }

// To selects the sockets in rooms.
func (e *Emitter) To(rooms ...string) EmitOperator { return e.op().To(rooms...) }

// In is To.
func (e *Emitter) In(rooms ...string) EmitOperator { return e.op().To(rooms...) }

// Except leaves out the sockets in rooms.
func (e *Emitter) Except(rooms ...string) EmitOperator { return e.op().Except(rooms...) }

// Volatile makes the event droppable for clients not ready to receive it.
func (e *Emitter) Volatile() EmitOperator { return e.op().Volatile() }

// Compress sets whether the event may be compressed.
func (e *Emitter) Compress(on bool) EmitOperator { return e.op().Compress(on) }

// Emit sends an event to every socket of the namespace.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	return e.op().Emit(ctx, event, args...)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.op().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.op().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace, closing their connections
// with closeConn.
func (e *Emitter) DisconnectSockets(ctx context.Context, closeConn bool) error {
	return e.op().DisconnectSockets(ctx, closeConn)
}

// ServerSideEmit sends an event to the server-side handlers of every node
// (Namespace.OnServerSideEmit). Acknowledgements are not supported, as in Node's emitter.
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	p, err := socketio.NewPacket(e.nsp, event, args...)
	if err != nil {
		return err
	}
	data, err := eventData(p)
	if err != nil {
		return err
	}
	msg := object("uid", str(emitterUID), "type", integer(reqServerSideEmit), "data", data)
	return e.publish(ctx, e.requestChannel(), msg.json())
}

func (e *Emitter) requestChannel() string { return e.key + "-request#" + e.nsp + "#" }

func (e *Emitter) publish(ctx context.Context, channel string, payload []byte) error {
	if err := e.client.Publish(ctx, channel, payload).Err(); err != nil {
		return fmt.Errorf("redis emitter: publishing to %s: %w", channel, err)
	}
	return nil
}

// EmitOperator is an Emitter with a selection of sockets and flags; its methods return
// modified copies.
type EmitOperator struct {
	e      *Emitter
	rooms  []string
	except []string
	flags  socketio.BroadcastFlags
}

// To adds rooms to the selection.
func (o EmitOperator) To(rooms ...string) EmitOperator {
	o.rooms = appendNew(o.rooms, rooms)
	return o
}

// In is To.
func (o EmitOperator) In(rooms ...string) EmitOperator { return o.To(rooms...) }

// Except leaves out the sockets in rooms.
func (o EmitOperator) Except(rooms ...string) EmitOperator {
	o.except = appendNew(o.except, rooms)
	return o
}

// Volatile makes the event droppable for clients not ready to receive it.
func (o EmitOperator) Volatile() EmitOperator { o.flags.Volatile = true; return o }

// Compress sets whether the event may be compressed.
func (o EmitOperator) Compress(on bool) EmitOperator { o.flags.Uncompressed = !on; return o }

// appendNew appends the names not already in list, to a copy: operators are values.
func appendNew(list, names []string) []string {
	out := slices.Clip(list)
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (o EmitOperator) options() socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: o.rooms, Except: o.except, Flags: o.flags}
}

// Emit sends an event to the selected sockets of every node. Arguments are encoded with
// encoding/json, []byte values travelling as binary.
func (o EmitOperator) Emit(ctx context.Context, event string, args ...any) error {
	p, err := socketio.NewPacket(o.e.nsp, event, args...)
	if err != nil {
		return err
	}
	pv, err := packetValue(p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := array(str(emitterUID), pv, optionsValue(o.options())).encodeMsgpack(&buf); err != nil {
		return err
	}
	channel := o.e.key + "#" + o.e.nsp + "#"
	if len(o.rooms) == 1 {
		channel += o.rooms[0] + "#"
	}
	return o.e.publish(ctx, channel, buf.Bytes())
}

// SocketsJoin makes the selected sockets join rooms.
func (o EmitOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	msg := object("type", integer(reqRemoteJoin), "opts", roomsValue(o.options()), "rooms", strs(nonNil(rooms)))
	return o.e.publish(ctx, o.e.requestChannel(), msg.json())
}

// SocketsLeave makes the selected sockets leave rooms.
func (o EmitOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	msg := object("type", integer(reqRemoteLeave), "opts", roomsValue(o.options()), "rooms", strs(nonNil(rooms)))
	return o.e.publish(ctx, o.e.requestChannel(), msg.json())
}

// DisconnectSockets disconnects the selected sockets, closing their connections with
// closeConn.
func (o EmitOperator) DisconnectSockets(ctx context.Context, closeConn bool) error {
	msg := object("type", integer(reqRemoteDisconnect), "opts", roomsValue(o.options()), "close", boolean(closeConn))
	return o.e.publish(ctx, o.e.requestChannel(), msg.json())
}

// AllRooms returns the rooms with at least one socket of namespace nsp on any node of the
// cluster, asking the other nodes when nsp's adapter is one of this package's; with any
// other adapter, the local rooms.
func AllRooms(ctx context.Context, nsp *socketio.Namespace) ([]string, error) {
	if a, ok := nsp.Adapter().(interface {
		AllRooms(context.Context) ([]string, error)
	}); ok {
		return a.AllRooms(ctx)
	}
	return nsp.Adapter().Rooms(), nil
}
