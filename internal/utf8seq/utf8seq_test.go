package utf8seq

import (
	"testing"
	"unicode/utf8"
)

// TestAgainstUTF8 checks Len and SecondRange against unicode/utf8 on every two-byte start.
func TestAgainstUTF8(t *testing.T) {
	for lead := range 256 {
		n := Len(byte(lead))
		lo, hi := SecondRange(byte(lead))
		for second := range 256 {
			// A sequence of the announced length, with the second byte given and the others
			// plain continuation bytes, is valid exactly when the second is in range.
			b := []byte{byte(lead), byte(second), 0x80, 0x80}[:max(n, 2)]
			if n == 1 {
				b = b[:1]
			}
			want := n == 1 && lead < utf8.RuneSelf || n > 1 && byte(second) >= lo && byte(second) <= hi
			if got := utf8.Valid(b); got != want {
				t.Fatalf("lead %#x second %#x: utf8.Valid %v, Len/SecondRange say %v", lead, second, got, want)
			}
		}
	}
}
