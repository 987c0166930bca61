// Package utf8seq holds the facts about UTF-8 sequences that incremental validation and
// replacement of ill-formed text need beyond package unicode/utf8: how long a sequence its first
// byte announces, and which bytes may follow that first byte (Unicode table 3-7).
package utf8seq

// Len returns the length of the sequence that lead starts, or 1 for a byte that cannot start a
// multi-byte sequence (ASCII, a continuation byte, or one never valid in UTF-8).
func Len(lead byte) int {
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

// SecondRange returns the bounds of the byte that may follow lead in a well-formed sequence:
// narrower than 0x80..0xBF after E0 and F0 (no overlong forms), ED (no surrogates) and F4
// (nothing past U+10FFFF). Later bytes are always in 0x80..0xBF.
func SecondRange(lead byte) (lo, hi byte) {
	switch lead {
	case 0xE0:
		return 0xA0, 0xBF
	case 0xED:
		return 0x80, 0x9F
	case 0xF0:
		return 0x90, 0xBF
	case 0xF4:
		return 0x80, 0x8F
	}
	return 0x80, 0xBF
}
