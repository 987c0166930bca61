package socketio

// BroadcastSplit is Broadcast with the deliveries run by split, so that an adapter can spread
// a broadcast to many local sockets over several goroutines: the MemoryAdapter chooses the
// recipients and, with recovery on, gives the packet its offset and keeps it, as Broadcast
// does; then it calls split with the number of recipients, n, and deliver, which sends the
// packet to recipients from up to (but not including) to. split must call deliver on ranges
// that cover 0 to n once each, from any goroutines at once, and return only after every call
// has returned: a socket then gets the broadcasts that pass through one goroutine in the
// order they were made. A cluster adapter uses it for the broadcasts of other nodes, which
// reach it on one goroutine.
func (a *MemoryAdapter) BroadcastSplit(p *Packet, opts BroadcastOptions, split func(n int, deliver func(from, to int))) error {
	if a.recovery != nil && p.pkt.id == noID && !opts.Flags.Volatile {
		p = a.keep(p, opts)
	}
	volatile := opts.Flags.Volatile
	list := socketLists.Get().(*socketList)
	a.selectSockets(opts, list)
	n := len(list.s)
	list.tmp = sortByAddress(list.s, list.tmp)
	split(n, func(from, to int) {
		// Each range's writes back to back, as deliverAll's (see engineio.Fanout); the
		// ranges run at once, so each takes a Fanout of its own.
		fl := socketLists.Get().(*socketList)
		for _, s := range list.s[from:to] {
			s.deliverVia(&fl.fan, p, volatile)
		}
		fl.fan.Flush()
		socketLists.Put(fl)
	})
	clear(list.s)
	list.s = list.s[:0]
	socketLists.Put(list)
	if o := a.nsp.srv.opts.Observer; o != nil {
		o.Broadcast(a.nsp.name, n)
	}
	return nil
}
