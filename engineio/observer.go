package engineio

// Observer is told what an Engine.IO server does, for metrics: sessions opened and closed,
// requests refused, upgrades, messages in and out. Its methods are called on the server's own
// goroutines, often with locks of the session held, so they must return at once and must not
// call back into the server: count, and leave the rest to whoever reads the counts.
//
// A nil Observer (the default) costs one comparison per call site and nothing else. Package
// metrics/prometheus has one.
type Observer interface {
	// SessionOpened is called when a session opens, on transport (TransportPolling or
	// TransportWebSocket).
	SessionOpened(transport string)
	// SessionClosed is called once when a session ends, with its reason.
	SessionClosed(reason CloseReason)
	// RequestRefused is called for each request refused with one of the protocol's codes
	// (the Code constants): handshakes among them.
	RequestRefused(code int)
	// Upgraded is called when a session moves from polling to WebSocket.
	Upgraded()
	// MessageReceived and MessageSent count the messages of the layer above and their
	// payload bytes (without Engine.IO's framing). MessageSent counts a message when it is
	// queued for the client.
	MessageReceived(bytes int)
	MessageSent(bytes int)
	// VolatileDropped is called for each volatile message dropped because the client was
	// not keeping up (see Session.SendVolatile).
	VolatileDropped()
	// SlowClient is called when a session is closed because its client did not take what it
	// was sent: its send queue filled (CloseSendQueueFull), or a write timed out.
	SlowClient()
}
