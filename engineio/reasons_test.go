package engineio

import "testing"

// Every close reason has its own value, so that a Client's own Close (CloseClientClose) and
// a server's Session.Close (CloseServerClose) can be told apart.
func TestCloseReasonsDistinct(t *testing.T) {
	all := []CloseReason{CloseTransportClose, CloseTransportError, ClosePingTimeout, CloseParseError,
		ClosePayloadTooLarge, CloseSendQueueFull, CloseServerClose, CloseServerShutdown, CloseClientClose}
	seen := map[CloseReason]bool{}
	for _, r := range all {
		if seen[r] {
			t.Errorf("two reasons are %q", r)
		}
		seen[r] = true
	}
}
