package socketio

// Registering and removing a client socket's handlers and listeners, in the form the server's
// sockets use (see socket_listeners.go): every registration returns a function that removes
// it; Off and OffAny remove them all.

// On registers a handler for an event from the server, and returns a function that removes
// it. The handler's shape is that of Namespace.On without the *Socket: parameters of ordinary
// Go types decoded from the event's arguments (binary values into []byte), optionally an Ack,
// optionally a final variadic parameter; what it returns answers the server's acknowledgement
// request, if any:
//
//	c.On("news", func(title string, n int) { ... })
//	c.On("sum", func(a, b int) int { return a + b })
//
// Handlers of one socket run one at a time, in arrival order, on a goroutine other than the
// connection's reader, so a handler may call EmitWithAck. A handler of the wrong shape panics
// here. With recovery on, servers add an offset string as the last argument of events
// without an ack id, as the JavaScript client sees it too; fixed parameters ignore it.
func (s *ClientSocket) On(event string, fn any) (remove func()) {
	return s.addHandler(event, newHandler(fn, false))
}

// Once registers a handler called for the next such event only (socket.once in the JavaScript
// client), and returns a function that removes it before then.
func (s *ClientSocket) Once(event string, fn any) (remove func()) {
	h := newHandler(fn, false)
	h.once = true
	return s.addHandler(event, h)
}

func (s *ClientSocket) addHandler(event string, h *handler) func() {
	return addHandler(&s.mu, &s.handlers, event, h)
}

// Off removes every handler of event (socket.off(event) in the JavaScript client).
func (s *ClientSocket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

// OnAny registers a listener for every event from the server, called before the handlers, and
// returns a function that removes it. Events whose arguments hold more JSON values than
// ClientOptions.MaxDecodedValues do not reach it (the client logs them).
func (s *ClientSocket) OnAny(f func(event string, args []any)) (remove func()) {
	return addListener(&s.mu, &s.anyIn, f, false)
}

// PrependAny is OnAny, the listener called before those already registered.
func (s *ClientSocket) PrependAny(f func(event string, args []any)) (remove func()) {
	return addListener(&s.mu, &s.anyIn, f, true)
}

// OffAny removes every listener registered with OnAny or PrependAny.
func (s *ClientSocket) OffAny() {
	s.mu.Lock()
	s.anyIn = nil
	s.mu.Unlock()
}

// ListenersAny returns the listeners registered with OnAny and PrependAny, in calling order.
func (s *ClientSocket) ListenersAny() []func(event string, args []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anyIn.funcs()
}

// OnAnyOutgoing registers a listener for every event emitted, called by Emit, and returns a
// function that removes it. Events whose arguments hold more JSON values than
// ClientOptions.MaxDecodedValues do not reach it (the client logs them).
func (s *ClientSocket) OnAnyOutgoing(f func(event string, args []any)) (remove func()) {
	return addListener(&s.mu, &s.anyOut, f, false)
}

// PrependAnyOutgoing is OnAnyOutgoing, the listener called before those already registered.
func (s *ClientSocket) PrependAnyOutgoing(f func(event string, args []any)) (remove func()) {
	return addListener(&s.mu, &s.anyOut, f, true)
}

// OffAnyOutgoing removes every listener registered with OnAnyOutgoing or PrependAnyOutgoing.
func (s *ClientSocket) OffAnyOutgoing() {
	s.mu.Lock()
	s.anyOut = nil
	s.mu.Unlock()
}

// ListenersAnyOutgoing returns the outgoing listeners, in calling order.
func (s *ClientSocket) ListenersAnyOutgoing() []func(event string, args []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anyOut.funcs()
}

// OnConnect registers a function called each time the socket joins its namespace (first, and
// after each reconnection), and returns a function that removes it.
func (s *ClientSocket) OnConnect(f func()) (remove func()) {
	return addListener(&s.mu, &s.onConnect, f, false)
}

// OnDisconnect registers a function called each time the socket leaves its namespace, with
// the reason: ReasonIOServerDisconnect, ReasonIOClientDisconnect, or one of the connection's
// (ReasonTransportClose, ReasonPingTimeout …), after which the client reconnects. It returns
// a function that removes it.
func (s *ClientSocket) OnDisconnect(f func(reason DisconnectReason)) (remove func()) {
	return addListener(&s.mu, &s.onDisc, f, false)
}

// OnConnectError registers a function called when the server refuses the socket, with the
// *ConnectError, and returns a function that removes it.
func (s *ClientSocket) OnConnectError(f func(err error)) (remove func()) {
	return addListener(&s.mu, &s.onConnErr, f, false)
}
