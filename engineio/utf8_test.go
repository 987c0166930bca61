package engineio

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppendValidUTF8 holds the replacement to the WHATWG decoder's: one U+FFFD per maximal
// subpart of an ill-formed sequence (the Unicode standard's table 3-8 examples among them).
func TestAppendValidUTF8(t *testing.T) {
	const r = "\uFFFD"
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"κόσμε 日本 😀", "κόσμε 日本 😀"},
		{"\xff", r},
		{"\xff\xfe", r + r},
		{"a\x80b", "a" + r + "b"},
		{"\xe2\x82", r},             // a truncated three-byte sequence is one subpart
		{"\xe2\x82(", r + "("},      // and what follows is kept
		{"\xf0\x9f\x98", r},         // a truncated four-byte sequence
		{"\xc0\xaf", r + r},         // overlong: C0 never starts a sequence
		{"\xe0\x80\xaf", r + r + r}, // overlong: E0 needs A0..BF next
		{"\xed\xa0\x80", r + r + r}, // a surrogate
		{"\xf4\x90\x80\x80", r + r + r + r},
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" + r + r + r + "b" + r + "c" + r + r + "d"},
		{"\uFFFD", "\uFFFD"}, // a real U+FFFD stays one
	}
	for _, c := range cases {
		if got := string(appendValidUTF8(nil, []byte(c.in))); got != c.want {
			t.Errorf("appendValidUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzAppendValidUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff", "\xe2\x82(", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "a\xc3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := appendValidUTF8([]byte("prefix"), b)
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatal("dst not kept")
		}
		out = out[len("prefix"):]
		if !utf8.Valid(out) {
			t.Fatalf("%q gave invalid %q", b, out)
		}
		if utf8.Valid(b) && !bytes.Equal(out, b) {
			t.Fatalf("valid %q changed to %q", b, out)
		}
		// Every replacement stands for at least one input byte; the valid runes are kept.
		if n := strings.Count(string(out), "\uFFFD") - strings.Count(strings.ToValidUTF8(string(b), ""), "\uFFFD"); n > len(b) {
			t.Fatalf("%d replacements for %d bytes", n, len(b))
		}
		if strings.ToValidUTF8(string(b), "") != strings.ReplaceAll(string(out), "\uFFFD", "") &&
			!strings.Contains(string(b), "\uFFFD") {
			t.Fatalf("%q: the valid parts changed: %q", b, out)
		}
	})
}
