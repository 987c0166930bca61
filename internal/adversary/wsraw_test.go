//go:build linux

package adversary

import (
	"bufio"
	"bytes"
	"testing"
)

// TestFrameRoundTrip writes frames of every length form, masked and not, and reads them back.
func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 125, 126, 65535, 65536, 100_003} {
		for _, masked := range []bool{false, true} {
			p := bytes.Repeat([]byte("abcdefghijk"), n/11+1)[:n]
			f := Frame{Fin: true, RSV: 5, Op: OpBinary, Masked: masked, Payload: p}
			wire := AppendFrame(nil, f)
			if masked && n >= 8 && bytes.Contains(wire, p[:8]) {
				t.Fatalf("n=%d: the payload went out unmasked", n)
			}
			w := &WS{}
			w.br = bufio.NewReader(bytes.NewReader(wire))
			got, err := w.ReadFrame(1 << 20)
			if err != nil {
				t.Fatalf("n=%d masked=%v: %v", n, masked, err)
			}
			if !got.Fin || got.RSV != 5 || got.Op != OpBinary || got.Masked != masked || !bytes.Equal(got.Payload, p) {
				t.Fatalf("n=%d masked=%v: read back %+v", n, masked, got)
			}
		}
	}
}
