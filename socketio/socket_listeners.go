package socketio

// Registering and removing a server socket's handlers and listeners. Every registration
// returns a function that removes what it registered (calling it again does nothing), where
// Node's API takes the listener back: socket.off("chat", listener) is remove(). Off and OffAny
// remove all at once, as Node's off("chat") and offAny() do.

// On registers a handler for an event from this socket's client, called after the
// namespace's handlers for the event, and returns a function that removes it. See Namespace.On
// for the handler's shape.
func (s *Socket) On(event string, fn any) (remove func()) {
	return s.addHandler(event, newHandler(fn, true))
}

// Once registers a handler called for the next such event only (Node's socket.once), and
// returns a function that removes it before then.
func (s *Socket) Once(event string, fn any) (remove func()) {
	h := newHandler(fn, true)
	h.once = true
	return s.addHandler(event, h)
}

func (s *Socket) addHandler(event string, h *handler) func() {
	return addHandler(&s.mu, &s.handlers, event, h)
}

// Off removes every handler this socket registered for event (Node's socket.off(event) with no
// listener); those of the namespace stay.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

// OnAny registers a listener for every event from the client, called before the middleware
// (Socket.Use) and the handlers, as in Node; it returns a function that removes it. Events
// whose arguments hold more JSON values than ServerOptions.MaxDecodedValues do not reach it
// (the server logs them).
func (s *Socket) OnAny(f func(event string, args []any)) (remove func()) {
	return s.addAny(&s.anyIn, f, false)
}

// PrependAny is OnAny, the listener called before those already registered.
func (s *Socket) PrependAny(f func(event string, args []any)) (remove func()) {
	return s.addAny(&s.anyIn, f, true)
}

// OffAny removes every listener registered with OnAny or PrependAny.
func (s *Socket) OffAny() { s.clearAny(&s.anyIn) }

// ListenersAny returns the listeners registered with OnAny and PrependAny, in calling order.
func (s *Socket) ListenersAny() []func(event string, args []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anyIn.funcs()
}

// OnAnyOutgoing registers a listener for every event sent to the client, broadcasts included,
// and returns a function that removes it. Events whose arguments hold more JSON values than
// ServerOptions.MaxDecodedValues do not reach it (the server logs them).
func (s *Socket) OnAnyOutgoing(f func(event string, args []any)) (remove func()) {
	return s.addAny(&s.anyOut, f, false)
}

// PrependAnyOutgoing is OnAnyOutgoing, the listener called before those already registered.
func (s *Socket) PrependAnyOutgoing(f func(event string, args []any)) (remove func()) {
	return s.addAny(&s.anyOut, f, true)
}

// OffAnyOutgoing removes every listener registered with OnAnyOutgoing or PrependAnyOutgoing.
func (s *Socket) OffAnyOutgoing() { s.clearAny(&s.anyOut) }

// ListenersAnyOutgoing returns the outgoing listeners, in calling order.
func (s *Socket) ListenersAnyOutgoing() []func(event string, args []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anyOut.funcs()
}

func (s *Socket) addAny(l *listenerList[func(string, []any)], f func(string, []any), first bool) func() {
	return addListener(&s.mu, l, f, first)
}

func (s *Socket) clearAny(l *listenerList[func(string, []any)]) {
	s.mu.Lock()
	*l = nil
	s.mu.Unlock()
}

// OnDisconnecting registers a function called when the socket is leaving, while it is still
// in its rooms, and returns a function that removes it.
func (s *Socket) OnDisconnecting(f func(reason DisconnectReason)) (remove func()) {
	return addListener(&s.mu, &s.onDisconnecting, f, false)
}

// OnDisconnect registers a function called once the socket has left, and returns a function
// that removes it.
func (s *Socket) OnDisconnect(f func(reason DisconnectReason)) (remove func()) {
	return addListener(&s.mu, &s.onDisconnect, f, false)
}
