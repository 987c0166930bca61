// Package socketio will implement Socket.IO v5 on top of package engineio: namespaces, rooms,
// broadcasts, acknowledgements, binary attachments, middleware and connection recovery.
//
// So far it holds the protocol's packet parser, with binary attachment reassembly; the server
// and client are the next steps of the roadmap.
package socketio
