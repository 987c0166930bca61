// Package hostmatch checks a request's Host header against a list of allowed host names, the
// defence against DNS rebinding that websocket and engineio offer as AllowedHosts.
//
// A page on a domain an attacker controls can point that domain at a server's address (a
// loopback or private one, say) and then talk to the server as a same-origin page: Origin and
// Host agree. Only the server knows which names it is really served under.
package hostmatch

import (
	"net"
	"path"
	"strings"
)

// Allowed reports whether host, a Host header (with or without a port), matches one of the
// patterns: path.Match patterns over the lower-case host name without its port, such as
// "example.com", "*.example.com", "127.0.0.1" or "::1". No patterns allow every host. A
// malformed pattern matches nothing.
func Allowed(host string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	for _, p := range patterns {
		if ok, err := path.Match(strings.ToLower(p), name); err == nil && ok {
			return true
		}
	}
	return false
}
