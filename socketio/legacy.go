package socketio

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Socket.IO protocol v4, what socket.io-client 2.x speaks, on the Engine.IO v3 sessions that
// ServerOptions.AllowEIO3 lets in. It differs from v5 only around connecting, and this copies
// what Node's socket.io 4.x does where it checks `conn.protocol === 3`:
//   - the client is in namespace "/" from the start, without sending CONNECT;
//   - a CONNECT carries the client's query in its namespace ("/nsp?token=x"), which becomes
//     the handshake's auth object;
//   - the server's CONNECT has no payload, and a socket's id is the Engine.IO session's id
//     ("/nsp#" and that id outside "/");
//   - a middleware's refusal sends the error's data, or else its message, as the CONNECT_ERROR
//     payload.
//
// Events, acks and their binary attachments are encoded alike in both protocols, so one
// broadcast packet serves v2 and v3/v4 clients at once.

// legacyProtocol is the Engine.IO revision of the sessions that speak Socket.IO v4.
const legacyProtocol = 3

// legacyNamespace splits a v4 packet's namespace into its name and, as a JSON object, its
// query, as Node's url.parse reads it: keys in the order they first appear, a key given once
// mapping to a string and a key repeated to an array of strings.
func legacyNamespace(nsp string) (string, json.RawMessage) {
	name, query, _ := strings.Cut(nsp, "?")
	var keys []string
	values := map[string][]string{}
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if _, ok := values[k]; !ok {
			keys = append(keys, k)
		}
		values[k] = append(values[k], v)
	}
	auth := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			auth = append(auth, ',')
		}
		auth, _ = appendJSON(auth, k)
		auth = append(auth, ':')
		if vs := values[k]; len(vs) == 1 {
			auth, _ = appendJSON(auth, vs[0])
		} else {
			auth, _ = appendJSON(auth, vs)
		}
	}
	return name, append(auth, '}')
}

// unescapeQuery decodes a query's key or value; one that is not valid escaping is kept as it
// came.
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// appendJSON appends v's JSON encoding to dst.
func appendJSON(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

// legacySocketID is a v4 socket's id, made of the session id as Node makes it.
func legacySocketID(nsp, sessionID string) string {
	if nsp == "/" {
		return sessionID
	}
	return nsp + "#" + sessionID
}

// legacyConnectError is a middleware refusal's CONNECT_ERROR payload for a v4 client.
func legacyConnectError(ce *ConnectError) (json.RawMessage, error) {
	if ce.Data != nil {
		return json.Marshal(ce.Data)
	}
	return json.Marshal(ce.Message)
}
