package engineio

import "unicode/utf8"

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
	need := 1
	switch lead := b[0]; {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 2
	case lead >= 0xE0 && lead <= 0xEF:
		need = 3
	case lead >= 0xF0 && lead <= 0xF4:
		need = 4
	}
	// The second byte's range depends on the lead (no overlong forms, no surrogates, nothing
	// past U+10FFFF); later ones are plain continuation bytes.
	lo, hi := byte(0x80), byte(0xBF)
	switch b[0] {
	case 0xE0:
		lo = 0xA0
	case 0xED:
		hi = 0x9F
	case 0xF0:
		lo = 0x90
	case 0xF4:
		hi = 0x8F
	}
	i := 1
	for ; i < need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}
