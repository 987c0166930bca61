package engineio

import (
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPickCoding(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"gzip, deflate, br"}, "gzip"},
		{[]string{"deflate"}, "deflate"},
		{[]string{"br"}, ""},
		{[]string{"identity"}, ""},
		{[]string{"gzip;q=0.5, deflate"}, "deflate"},
		{[]string{"deflate;q=0.5, gzip;q=0.5"}, "gzip"},
		{[]string{"gzip;q=0, deflate;q=0"}, ""},
		{[]string{"*"}, "gzip"},
		{[]string{"gzip;q=0, *;q=0.3"}, "deflate"},
		{[]string{"GZIP ; Q=0.8", "deflate;q=0.9"}, "deflate"},
		{[]string{"x-gzip"}, "gzip"},
		{[]string{"gzip;q=bogus, deflate;q=0.1"}, "deflate"},
	} {
		if got := pickCoding(tc.header); got != tc.want {
			t.Errorf("Accept-Encoding %q: %q, want %q", tc.header, got, tc.want)
		}
	}
}

// TestPollingCompression: a poll answer of at least the threshold goes out with the coding the
// client accepts, and decodes to what would have been sent as is.
func TestPollingCompression(t *testing.T) {
	big := strings.Repeat("compressible ", 200) // 2,600 bytes
	for _, tc := range []struct {
		name           string
		opts           *HTTPCompressionOptions
		acceptEncoding string
		msg            *PreparedMessage
		want           string // Content-Encoding
	}{
		{"gzip", nil, "gzip, deflate", NewPreparedMessage([]byte(big), false), "gzip"},
		{"deflate", nil, "deflate", NewPreparedMessage([]byte(big), false), "deflate"},
		{"not accepted", nil, "br", NewPreparedMessage([]byte(big), false), ""},
		{"none asked", nil, "", NewPreparedMessage([]byte(big), false), ""},
		{"below threshold", nil, "gzip", NewPreparedMessage([]byte("small"), false), ""},
		{"threshold option", &HTTPCompressionOptions{Threshold: 4}, "gzip", NewPreparedMessage([]byte("small"), false), "gzip"},
		{"disabled", &HTTPCompressionOptions{Disable: true}, "gzip", NewPreparedMessage([]byte(big), false), ""},
		{"uncompressed message", nil, "gzip", NewUncompressedPreparedMessage([]byte(big), false), ""},
		{"binary", &HTTPCompressionOptions{Level: 9}, "gzip", NewPreparedMessage([]byte(big), true), "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opened := make(chan *Session, 1)
			srv := NewServer(&ServerOptions{
				PingInterval:    time.Minute,
				HTTPCompression: tc.opts,
				OnOpen:          func(s *Session) { opened <- s },
			})
			hs := newTestHTTP(t, srv)
			o := handshakePolling(t, hs.URL)
			s := <-opened
			if err := s.Send(tc.msg); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", hs.URL+"/engine.io/?EIO=4&transport=polling&sid="+o.SID, nil)
			if tc.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tc.acceptEncoding)
			}
			// A transport that leaves the body as it came.
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			defer client.CloseIdleConnections()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := resp.Header.Get("Content-Encoding")
			if got != tc.want {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.want)
			}
			var r io.Reader = resp.Body
			switch got {
			case "gzip":
				if r, err = gzip.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			case "deflate":
				if r, err = zlib.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			body, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			want := string(tc.msg.pollingText())
			if string(body) != want {
				t.Fatalf("decoded body %.40q… (%d bytes), want %.40q… (%d bytes)", body, len(body), want, len(want))
			}
			if got != "" && len(want) > 1000 && resp.ContentLength >= int64(len(want)) {
				t.Fatalf("compressed to %d bytes from %d", resp.ContentLength, len(want))
			}
		})
	}
}
