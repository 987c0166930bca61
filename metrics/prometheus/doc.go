// Package prometheus exports what a Tether server does as Prometheus metrics: an Observer
// for socketio.ServerOptions.Observer (which, being an engineio.Observer too, also sees the
// Engine.IO sessions below) and for the Redis adapter's options, whose collectors are
// registered on the prometheus.Registerer given to New.
//
//	reg := prometheus.NewRegistry()
//	obs, err := tetherprom.New(reg, nil)
//	if err != nil { … }
//	io := socketio.NewServer(&socketio.ServerOptions{Observer: obs})
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Every name starts with tether_. Labels: namespace is the Socket.IO namespace; reason is a
// socketio.DisconnectReason or an engineio.CloseReason as the library spells them; event is
// present only when Options.Events lists event names (see there).
//
//	Name                                          Type       Labels              What
//	tether_socketio_connected_sockets             gauge      namespace           sockets connected now
//	tether_socketio_connects_total                counter    namespace           sockets connected (middleware passed)
//	tether_socketio_connect_refusals_total        counter    namespace           sockets a middleware refused
//	tether_socketio_disconnects_total             counter    namespace, reason   sockets that left, by reason
//	tether_socketio_events_received_total         counter    namespace[, event]  events received from clients
//	tether_socketio_events_sent_total             counter    namespace[, event]  events sent (once per recipient)
//	tether_socketio_broadcast_recipients          histogram  namespace           local sockets each broadcast reached
//	tether_socketio_acks_pending                  gauge      namespace           EmitWithAck calls waiting for their ack
//	tether_socketio_ack_duration_seconds          histogram  namespace           time until an ack came
//	tether_socketio_ack_failures_total            counter    namespace           acks that never came (timeout, socket gone)
//	tether_engineio_open_sessions                 gauge                          Engine.IO sessions open now
//	tether_engineio_sessions_opened_total         counter    transport           handshakes completed, by first transport
//	tether_engineio_sessions_closed_total         counter    reason              sessions ended, by reason
//	tether_engineio_requests_refused_total        counter    reason              requests refused (handshakes among them)
//	tether_engineio_upgrades_total                counter                        sessions upgraded from polling to websocket
//	tether_engineio_messages_received_total       counter                        messages received
//	tether_engineio_messages_sent_total           counter                        messages queued for clients
//	tether_engineio_received_bytes_total          counter                        payload bytes received
//	tether_engineio_sent_bytes_total              counter                        payload bytes queued for clients
//	tether_engineio_volatile_drops_total          counter                        volatile messages dropped for slow clients
//	tether_engineio_slow_client_disconnects_total counter                        sessions closed: send queue full or write timeout
//	tether_redis_publish_errors_total             counter                        Redis adapter publishes that failed
//	tether_redis_subscribe_errors_total           counter                        Redis adapter subscriptions that failed
//	tether_redis_request_timeouts_total           counter                        cluster requests other nodes did not all answer
//
// The reasons of tether_engineio_requests_refused_total are unknown_transport,
// unknown_session, bad_handshake_method, bad_request, forbidden and
// unsupported_protocol_version (engineio's Code constants).
//
// Bytes are those of the Engine.IO messages' payloads (a Socket.IO packet and each binary
// attachment), without the framing of polling or WebSocket.
//
// # Cardinality
//
// Namespace names come from the server's code, or for dynamic namespaces from the patterns it
// allows: bound those if a client may make many. Event names come from clients, so they label
// nothing unless Options.Events lists the ones wanted; any other is counted as "other".
package prometheus
