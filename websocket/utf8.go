package websocket

import "unicode/utf8"

// utf8Validator checks UTF-8 incrementally, so that a text message split across frames (or read
// in pieces) fails as soon as its bytes cannot be valid, not only when the message ends.
type utf8Validator struct {
	pending [utf8.UTFMax]byte // an incomplete rune carried over from the previous write
	n       int
}

// write validates the next bytes of the text. It reports false as soon as p, appended to what
// came before, cannot be the start of valid UTF-8.
func (v *utf8Validator) write(p []byte) bool {
	if v.n > 0 {
		need := runeLen(v.pending[0]) - v.n
		take := min(need, len(p))
		v.n += copy(v.pending[v.n:], p[:take])
		p = p[take:]
		if take < need {
			return validPrefix(v.pending[:v.n])
		}
		if !utf8.Valid(v.pending[:v.n]) {
			return false
		}
		v.n = 0
	}
	// Find an incomplete rune at the end: look back at most three bytes for its first byte.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if runeLen(p[i]) > len(p)-i {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	if tail := p[cut:]; len(tail) > 0 {
		if !validPrefix(tail) {
			return false
		}
		v.n = copy(v.pending[:], tail)
	}
	return true
}

// complete reports whether the text seen so far ends on a rune boundary.
func (v *utf8Validator) complete() bool { return v.n == 0 }

func (v *utf8Validator) reset() { v.n = 0 }

// runeLen returns the length of the sequence that lead starts, or 1 for bytes that cannot start
// one (so that utf8.Valid rejects them).
func runeLen(lead byte) int {
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		return 2
	case lead >= 0xE0 && lead <= 0xEF:
		return 3
	case lead >= 0xF0 && lead <= 0xF4:
		return 4
	}
	return 1
}

// validPrefix reports whether b, shorter than the sequence its first byte starts, can still
// become a valid rune: no overlong form, no surrogate, nothing past U+10FFFF.
func validPrefix(b []byte) bool {
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
	for i, c := range b[1:] {
		if i > 0 {
			lo, hi = 0x80, 0xBF
		}
		if c < lo || c > hi {
			return false
		}
	}
	return true
}
