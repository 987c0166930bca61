package socketio

// ClientsCount returns the number of Engine.IO connections open on this node now, whatever
// namespaces they joined (Node's io.engine.clientsCount).
func (s *Server) ClientsCount() int { return s.engine.ClientsCount() }
