package socketio

// Registering and removing a namespace's handlers and catch-all listeners, in the form the
// sockets use (see socket_listeners.go): registration returns the function that removes it.

func (n *Namespace) addHandler(event string, h *handler) func() {
	return addHandler(&n.mu, &n.handlers, event, h)
}

// Off removes every handler registered with On for event on the namespace; those the sockets
// registered stay. Node's namespace has no event handlers of its own, so no equivalent.
func (n *Namespace) Off(event string) {
	n.mu.Lock()
	delete(n.handlers, event)
	n.mu.Unlock()
}

// OnAny registers a listener for every event from every socket of the namespace, called
// before the sockets' own catch-all listeners and the handlers, and returns a function that
// removes it. Events whose arguments hold more JSON values than ServerOptions.MaxDecodedValues
// do not reach it (the server logs them).
func (n *Namespace) OnAny(f func(s *Socket, event string, args []any)) (remove func()) {
	return n.addAny(f, false)
}

// PrependAny is OnAny, the listener called before those already registered.
func (n *Namespace) PrependAny(f func(s *Socket, event string, args []any)) (remove func()) {
	return n.addAny(f, true)
}

// OffAny removes every listener registered with OnAny or PrependAny on the namespace.
func (n *Namespace) OffAny() {
	n.mu.Lock()
	n.anyIn = nil
	n.mu.Unlock()
}

// ListenersAny returns the namespace's catch-all listeners, in calling order.
func (n *Namespace) ListenersAny() []func(s *Socket, event string, args []any) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.anyIn.funcs()
}

func (n *Namespace) addAny(f func(*Socket, string, []any), first bool) func() {
	return addListener(&n.mu, &n.anyIn, f, first)
}
