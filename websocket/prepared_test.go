package websocket

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestPreparedMessage broadcasts one prepared message to clients with and without compression.
func TestPreparedMessage(t *testing.T) {
	payload := []byte(strings.Repeat("broadcast ", 100))
	pm, err := NewPreparedMessage(MessageText, payload)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{Compression: CompressionContextTakeover})
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		for range 3 {
			if err := c.WritePrepared(context.Background(), pm); err != nil {
				t.Error(err)
			}
			// An ordinary message in between must still decode: our compressor keeps no context.
			if err := c.Write(context.Background(), MessageText, payload); err != nil {
				t.Error(err)
			}
		}
		_ = echo(c)
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, mode := range []CompressionMode{CompressionDisabled, CompressionNoContextTakeover, CompressionContextTakeover} {
		c := dial(t, url, &DialOptions{Compression: mode})
		for range 6 {
			typ, b, err := c.Read(testCtx(t))
			if err != nil || typ != MessageText || !bytes.Equal(b, payload) {
				t.Fatalf("mode %d: %v %v %d", mode, typ, err, len(b))
			}
		}
		// A client connection writes prepared messages too (masked anew).
		if err := c.WritePrepared(testCtx(t), pm); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.Read(testCtx(t)); err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("client prepared echo: %v", err)
		}
		c.Close(StatusNormalClosure, "")
	}
	wg.Wait()
	if _, err := NewPreparedMessage(MessageType(9), nil); err == nil {
		t.Fatal("bad type accepted")
	}
}
