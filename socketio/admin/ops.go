package admin

import (
	"context"
	"encoding/json"

	"github.com/tether-rt/tether/socketio"
)

// onAdminConnect greets a UI socket and takes its operations.
func (a *Admin) onAdminConnect(s *socketio.Socket) {
	if a.closed.Load() {
		s.Disconnect(false)
		return
	}
	if id := a.newSessionIfLogin(s); id != "" {
		_ = s.Emit("session", id)
	}
	if !a.opts.ReadOnly {
		s.On("emit", a.opEmit)
		s.On("join", func(args socketio.Args) { a.opRooms(args, true) })
		s.On("leave", func(args socketio.Args) { a.opRooms(args, false) })
		s.On("_disconnect", a.opDisconnect)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.feature})
	if !a.verbose {
		return
	}
	// Gathering the sockets of a cluster takes a round trip: not on the socket's goroutine.
	go func() {
		ctx, cancel := context.WithTimeout(s.Context(), fetchTimeout)
		defer cancel()
		all := a.allSockets(ctx)
		if ctx.Err() == nil || len(all) > 0 {
			_ = s.Emit("all_sockets", all)
		}
	}()
}

// allSockets lists the sockets of every namespace on every node, as FetchSockets sees them.
func (a *Admin) allSockets(ctx context.Context) []serializedSocket {
	out := []serializedSocket{}
	for _, n := range a.srv.Namespaces() {
		infos, err := n.FetchSockets(ctx)
		if err != nil {
			continue // a node that does not answer in time is left out of the list
		}
		for _, info := range infos {
			if local := n.Socket(info.ID); local != nil {
				out = append(out, serializeLocal(local))
				continue
			}
			// Another node's socket: its client id and transport are known there only.
			out = append(out, serialize(info.ID, n.Name(), info.Handshake, info.Rooms, info.Data))
		}
	}
	return out
}

// str decodes argument i as a string; "" when it is missing, null or not a string.
func str(args socketio.Args, i int) string {
	if i >= args.Len() {
		return ""
	}
	var v string
	if json.Unmarshal(args.Raw(i), &v) != nil {
		return ""
	}
	return v
}

// target is the sockets of namespace nsp, in room filter when one is given; false when the UI
// named no namespace.
func (a *Admin) target(nsp, filter string) (socketio.BroadcastOperator, bool) {
	if nsp == "" {
		return socketio.BroadcastOperator{}, false
	}
	n := a.srv.Of(nsp)
	if filter != "" {
		return n.In(filter), true
	}
	return n.To(), true
}

// opEmit is the UI's emit(nsp, filter, event, ...args).
func (a *Admin) opEmit(args socketio.Args) {
	op, ok := a.target(str(args, 0), str(args, 1))
	event := str(args, 2)
	if !ok || event == "" || a.closed.Load() {
		return
	}
	var rest []any
	for i := 3; i < args.Len(); i++ {
		rest = append(rest, args.Raw(i))
	}
	_ = op.Emit(event, rest...)
}

// opRooms is the UI's join(nsp, room, filter) and leave(nsp, room, filter).
func (a *Admin) opRooms(args socketio.Args, join bool) {
	op, ok := a.target(str(args, 0), str(args, 2))
	room := str(args, 1)
	if !ok || room == "" || a.closed.Load() {
		return
	}
	if join {
		_ = op.SocketsJoin(room)
	} else {
		_ = op.SocketsLeave(room)
	}
}

// opDisconnect is the UI's _disconnect(nsp, close, filter).
func (a *Admin) opDisconnect(args socketio.Args) {
	op, ok := a.target(str(args, 0), str(args, 2))
	if !ok || a.closed.Load() {
		return
	}
	var closeConn bool
	if args.Len() > 1 {
		_ = json.Unmarshal(args.Raw(1), &closeConn)
	}
	_ = op.DisconnectSockets(closeConn)
}
