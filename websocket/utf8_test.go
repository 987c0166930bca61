package websocket

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// TestUTF8ValidatorSplits feeds valid and invalid texts split at every position and checks that
// the verdict matches utf8.Valid, and that a bad prefix is refused as soon as it is seen.
func TestUTF8ValidatorSplits(t *testing.T) {
	texts := []string{
		"", "ascii", "κόσμε", "日本語", "emoji 😀 here", "\u07ff\u0800\uffff\U00010000\U0010ffff",
		"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"ok \xe2\x82", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
	}
	for _, s := range texts {
		for cut := 0; cut <= len(s); cut++ {
			for cut2 := cut; cut2 <= len(s); cut2++ {
				var v utf8Validator
				ok := v.write([]byte(s[:cut])) && v.write([]byte(s[cut:cut2])) && v.write([]byte(s[cut2:]))
				ok = ok && v.complete()
				if ok != utf8.ValidString(s) {
					t.Fatalf("%q split at %d,%d: got %v", s, cut, cut2, ok)
				}
			}
		}
	}
}

func TestUTF8ValidatorFailsFast(t *testing.T) {
	for _, prefix := range []string{"\xf4\x90", "\xed\xa0", "\xe0\x80", "\xc0", "\xf8", "abc\xf0\x80"} {
		var v utf8Validator
		if v.write([]byte(prefix)) {
			t.Errorf("%q: accepted a prefix that cannot become valid", prefix)
		}
	}
	for _, prefix := range []string{"\xf4\x8f", "\xed\x9f", "\xe0\xa0", "\xc2", "\xf0\x90\x80"} {
		var v utf8Validator
		if !v.write([]byte(prefix)) || v.complete() {
			t.Errorf("%q: refused a valid incomplete prefix", prefix)
		}
	}
}

func TestInvalidUTF8TextIsNeverSent(t *testing.T) {
	url, _ := echoServer(t, nil)
	c := dial(t, url, nil)
	ctx := testCtx(t)
	bad := []byte("ok \xff\xfe bad")
	if err := c.Write(ctx, MessageText, bad); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Write: %v, want ErrInvalidUTF8", err)
	}
	if _, err := NewPreparedMessage(MessageText, bad); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("NewPreparedMessage: %v, want ErrInvalidUTF8", err)
	}
	if _, err := NewPreparedMessage(MessageBinary, bad); err != nil {
		t.Fatalf("binary NewPreparedMessage: %v", err)
	}
	// A Writer refuses the bytes that break the text, and a text cut inside a character.
	w, err := c.Writer(ctx, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("caf\xc3")); err != nil {
		t.Fatalf("the first byte of a character: %v", err)
	}
	if _, err := w.Write([]byte("(")); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Writer.Write: %v, want ErrInvalidUTF8", err)
	}
	if err := w.Close(); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Writer.Close: %v, want ErrInvalidUTF8", err)
	}
	w, err = c.Writer(ctx, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("\xe2\x82"))
	if err := w.Close(); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Writer.Close inside a character: %v, want ErrInvalidUTF8", err)
	}
	// Nothing was sent, so the connection goes on: the echo brings back the next message only.
	if err := c.Write(ctx, MessageText, []byte("caf\xc3\xa9")); err != nil {
		t.Fatal(err)
	}
	typ, got, err := c.Read(ctx)
	if err != nil || typ != MessageText || string(got) != "café" {
		t.Fatalf("Read: %v %q %v", typ, got, err)
	}
}
