package socketio

// The Client's connection-level hooks, socket.io-client's Manager events (socket.io.on(...)).
// They run on the goroutine of the main socket's handlers, in order with them, so that a hook
// may call Close or wait for an acknowledgement.

// clientHooks are the functions registered on a Client; guarded by Client.mu.
type clientHooks struct {
	attempt   listenerList[func(attempt int)]
	reconnect listenerList[func(attempt int)]
	retryErr  listenerList[func(err error)]
	failed    listenerList[func()]
	errs      listenerList[func(err error)]
}

// OnReconnectAttempt registers a function called before each reconnection attempt, numbered
// from 1 since the connection was lost (Node's "reconnect_attempt"), and returns a function that
// removes it.
func (c *Client) OnReconnectAttempt(f func(attempt int)) (remove func()) {
	return addListener(&c.mu, &c.hooks.attempt, f, false)
}

// OnReconnect registers a function called once a reconnection attempt has succeeded, with its
// number (Node's "reconnect"); the sockets then join their namespaces again. It returns a
// function that removes it.
func (c *Client) OnReconnect(f func(attempt int)) (remove func()) {
	return addListener(&c.mu, &c.hooks.reconnect, f, false)
}

// OnReconnectError registers a function called with the error of each failed reconnection
// attempt (Node's "reconnect_error"), and returns a function that removes it.
func (c *Client) OnReconnectError(f func(err error)) (remove func()) {
	return addListener(&c.mu, &c.hooks.retryErr, f, false)
}

// OnReconnectFailed registers a function called when ClientOptions.ReconnectionAttempts have
// all failed, just before the Client closes (Node's "reconnect_failed"), and returns a function
// that removes it.
func (c *Client) OnReconnectFailed(f func()) (remove func()) {
	return addListener(&c.mu, &c.hooks.failed, f, false)
}

// OnError registers a function called with the connection's errors (Node's Manager "error"):
// each dial that failed, the first one and reconnection attempts alike, and each loss of an
// established connection, as a *ConnectionLostError. It returns a function that removes it.
func (c *Client) OnError(f func(err error)) (remove func()) {
	return addListener(&c.mu, &c.hooks.errs, f, false)
}

// runHooks calls the hooks of list, which pick reads under c.mu, with call.
func runHooks[F any](c *Client, what string, pick func(*clientHooks) listenerList[F], call func(F)) {
	c.mu.Lock()
	hooks := pick(&c.hooks)
	c.mu.Unlock()
	if len(hooks) == 0 {
		return
	}
	s := c.ClientSocket
	s.exec.submit(func() {
		for _, e := range hooks {
			s.safely(what, func() { call(e.f) })
		}
	})
}

func (c *Client) hookAttempt(n int) {
	runHooks(c, "reconnect attempt hook", func(h *clientHooks) listenerList[func(int)] { return h.attempt }, func(f func(int)) { f(n) })
}

func (c *Client) hookReconnect(n int) {
	runHooks(c, "reconnect hook", func(h *clientHooks) listenerList[func(int)] { return h.reconnect }, func(f func(int)) { f(n) })
}

func (c *Client) hookReconnectError(err error) {
	runHooks(c, "reconnect error hook", func(h *clientHooks) listenerList[func(error)] { return h.retryErr }, func(f func(error)) { f(err) })
}

func (c *Client) hookFailed() {
	runHooks(c, "reconnect failed hook", func(h *clientHooks) listenerList[func()] { return h.failed }, func(f func()) { f() })
}

func (c *Client) hookError(err error) {
	runHooks(c, "error hook", func(h *clientHooks) listenerList[func(error)] { return h.errs }, func(f func(error)) { f(err) })
}
