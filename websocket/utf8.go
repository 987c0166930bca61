package websocket

import (
	"unicode/utf8"

	"github.com/tether-rt/tether/internal/utf8seq"
)

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
func runeLen(lead byte) int { return utf8seq.Len(lead) }

// validPrefix reports whether b, shorter than the sequence its first byte starts, can still
// become a valid rune: no overlong form, no surrogate, nothing past U+10FFFF.
func validPrefix(b []byte) bool {
	lo, hi := utf8seq.SecondRange(b[0])
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
