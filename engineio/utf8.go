package engineio

import (
	"unicode/utf8"

	"github.com/tether-rt/tether/internal/utf8seq"
)

// appendValidUTF8 appends b to dst with every ill-formed sequence replaced by U+FFFD: one
// replacement per maximal subpart (Unicode chapter 3, "U+FFFD substitution of maximal
// subparts"), as the WHATWG decoder behind browsers' and Node's text decoding does, so that a
// client sees the same text from Tether as from a JavaScript server.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			dst = append(dst, b[0])
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[:n]...)
		} else {
			n = maximalSubpart(b)
			dst = append(dst, "\uFFFD"...)
		}
		b = b[n:]
	}
	return dst
}

// maximalSubpart returns the length of the ill-formed sequence at the start of b: its first
// byte and the bytes after it that could still continue a well-formed sequence, at least 1.
func maximalSubpart(b []byte) int {
	need := utf8seq.Len(b[0])
	lo, hi := utf8seq.SecondRange(b[0])
	i := 1
	for ; i < need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}
