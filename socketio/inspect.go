package socketio

// What a tool that watches a running server (the Admin UI's instrumentation, a dashboard)
// reads of it. These only observe: none changes what the server does.

// Namespaces returns the namespaces that exist now on this node, dynamic ones included (the
// parents of OfMatch are not namespaces and are not listed), in no particular order. Use it with
// OnNewNamespace to see every namespace: register the hook first, then list, since a namespace
// made in between is in both.
func (s *Server) Namespaces() []*Namespace { return s.namespaces() }

// OnRoomEvent registers f, called for each change in the namespace's rooms on this node
// (Node's adapter events create-room, delete-room, join-room and leave-room), and returns a
// function that removes it. It sees what the namespace's adapter reports, as
// AdapterHost.OnRoomEvent: the MemoryAdapter, and the adapters built on it, report every change.
// f is called with the adapter's lock held: it must be quick and must not call the adapter or
// anything that does (a join, a broadcast); hand the event to another goroutine for that.
func (n *Namespace) OnRoomEvent(f func(RoomEvent)) (remove func()) { return n.host.OnRoomEvent(f) }

// ClientID returns the id of the connection the socket belongs to (its Engine.IO session id,
// Node's socket.client.id): the sockets one client opened in several namespaces share it. It
// lets the client post to a polling session, so show it only to trusted eyes.
func (s *Socket) ClientID() string { return s.conn.es.ID() }
