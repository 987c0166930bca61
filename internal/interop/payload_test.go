package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// echoSizes are the message sizes every echo scenario sends: the edges of
// the 7-bit, 16-bit and 64-bit payload length encodings, and 1 MiB.
var echoSizes = []int{0, 1, 125, 126, 127, 65535, 65536, mib}

// bigSize is sent only a few times per peer: it is slow under -race.
const bigSize = 16 * mib

// textPattern mixes 1- to 4-byte UTF-8 characters so fixed-size fragment
// boundaries fall inside multi-byte sequences. The peers use the same one.
var textPattern = []string{"a", "é", "€", "𝄞", "Z", "ж", "中", "😀"}

// textPayload returns valid UTF-8 of exactly n bytes.
func textPayload(n int) []byte {
	var unit []byte
	for _, ch := range textPattern {
		unit = append(unit, ch...)
	}
	out := make([]byte, 0, n)
	for len(out)+len(unit) <= n {
		out = append(out, unit...)
	}
	for _, ch := range textPattern {
		rest := n - len(out)
		if rest == 0 {
			break
		}
		if len(ch) > rest {
			ch = string(bytes.Repeat([]byte("x"), rest)) // pad the tail with ASCII
		}
		out = append(out, ch...)
	}
	return out
}

// binaryPayload returns n incompressible bytes, the same for the same n.
func binaryPayload(n int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(n))
	out := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(out)
	return out
}

// repeats are messages with long-distance repetition, sent after echoSizes:
// {block, times}. Back-references at distance block break if a compressor
// ignores a negotiated *_max_window_bits.
var repeats = [][2]int{{1500, 8}, {6000, 4}, {20000, 2}}

// repeatPayload is a block of random bytes repeated times times.
func repeatPayload(block, times int) []byte {
	return bytes.Repeat(binaryPayload(block), times)
}

func payload(typ websocket.MessageType, n int) []byte {
	if typ == websocket.MessageText {
		return textPayload(n)
	}
	return binaryPayload(n)
}

func typeName(typ websocket.MessageType) string {
	switch typ {
	case websocket.MessageText:
		return "text"
	case websocket.MessageBinary:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(typ))
}

// checkMessage reports whether a received message is the expected one, and
// how it differs if not.
func checkMessage(t *testing.T, what string, wantType websocket.MessageType, want []byte, gotType websocket.MessageType, got []byte) {
	t.Helper()
	if gotType != wantType {
		t.Errorf("%s: got a %s message, want %s", what, typeName(gotType), typeName(wantType))
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: content differs: want %d bytes sha256 %x, got %d bytes sha256 %x, first difference at byte %d",
			what, len(want), sha256.Sum256(want), len(got), sha256.Sum256(got), i)
	}
}

// anyReason skips the reason check in checkClose.
const anyReason = "\x00any"

// checkClose checks that err is a *websocket.CloseError with the given
// fields, both through errors.As and websocket.CloseStatus.
func checkClose(t *testing.T, what string, err error, code websocket.StatusCode, reason string, local bool) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Errorf("%s: got error %v (%T), want a *websocket.CloseError with code %d", what, err, err, code)
		return
	}
	if got := websocket.CloseStatus(err); got != code {
		t.Errorf("%s: CloseStatus(err) = %d, want %d (err: %v)", what, got, code, err)
	}
	if ce.Code != code || (reason != anyReason && ce.Reason != reason) || ce.Local != local {
		want := fmt.Sprintf("Code:%d Reason:%q Local:%v", code, reason, local)
		if reason == anyReason {
			want = fmt.Sprintf("Code:%d Reason:<any> Local:%v", code, local)
		}
		t.Errorf("%s: got CloseError{Code:%d Reason:%q Local:%v}, want {%s}", what, ce.Code, ce.Reason, ce.Local, want)
	}
}

// testContext bounds one subtest; it ends before t's cleanups run.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
