package main

import (
	"bytes"
	"testing"
)

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		n      int
		masked bool
		want   []byte
	}{
		{0, false, []byte{0x82, 0}},
		{64, true, []byte{0x82, 0x80 | 64}},
		{125, false, []byte{0x82, 125}},
		{126, true, []byte{0x82, 0x80 | 126, 0, 126}},
		{65535, false, []byte{0x82, 126, 0xff, 0xff}},
		{65536, false, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendHeader(nil, 0x2, tc.masked, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("appendHeader(%d, masked=%v) = %x, want %x", tc.n, tc.masked, got, tc.want)
		}
	}
}

func TestNewWorkerMasksFrame(t *testing.T) {
	w := newWorker(nil, nil, 64, 7)
	if len(w.frame) != 2+4+64 {
		t.Fatalf("frame is %d bytes, want 70", len(w.frame))
	}
	mask, payload := w.frame[2:6], w.frame[6:]
	for i, b := range payload {
		if b^mask[i&3] != w.want[i] {
			t.Fatalf("byte %d does not unmask to the payload", i)
		}
	}
}
