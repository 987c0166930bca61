package httpserver

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// brokenDir is an fs.FS whose root is a directory that cannot be listed.
type brokenDir struct{}

func (brokenDir) Open(name string) (fs.File, error) {
	if name != "." {
		return nil, fs.ErrNotExist
	}
	return brokenDirFile{}, nil
}

// brokenDirFile is the root of brokenDir, and its own fs.FileInfo.
type brokenDirFile struct{}

func (brokenDirFile) Stat() (fs.FileInfo, error)         { return brokenDirFile{}, nil }
func (brokenDirFile) Read([]byte) (int, error)           { return 0, errors.New("is a directory") }
func (brokenDirFile) Close() error                       { return nil }
func (brokenDirFile) ReadDir(int) ([]fs.DirEntry, error) { return nil, errors.New("disk on fire") }
func (brokenDirFile) Name() string                       { return "." }
func (brokenDirFile) Size() int64                        { return 0 }
func (brokenDirFile) Mode() fs.FileMode                  { return fs.ModeDir | 0o755 }
func (brokenDirFile) ModTime() time.Time                 { return time.Time{} }
func (brokenDirFile) IsDir() bool                        { return true }
func (brokenDirFile) Sys() any                           { return nil }

// TestErrorLogLevels makes net/http write each line it can write to
// http.Server.ErrorLog that no client can cause by itself, and one that a
// client can, and checks the level each is logged at: this notices a change
// of wording in a new Go release.
func TestErrorLogLevels(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/twice", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusInternalServerError)
	})
	mux.HandleFunc("/hijacked", func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("x"))
		_, _ = c.Write([]byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
	})
	mux.HandleFunc("/length", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "many")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/length-and-chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1")
		w.Header().Set("Transfer-Encoding", "chunked")
		_, _ = w.Write([]byte("x"))
	})
	mux.Handle("/dir/", http.StripPrefix("/dir", http.FileServerFS(brokenDir{})))

	// HTTP/1 on a plain listener, HTTP/2 over TLS.
	recs := &records{}
	addr := serveTest(t, mux, Limits{}, slog.New(recs))
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = New(mux, Limits{}, slog.New(recs))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()

	tests := []struct {
		path   string
		http2  bool
		prefix string
		level  slog.Level
	}{
		{"/panic", false, "http: panic serving ", slog.LevelError},
		{"/panic", true, "http2: panic serving ", slog.LevelError},
		{"/twice", false, "http: superfluous response.WriteHeader call", slog.LevelWarn},
		{"/hijacked", false, "http: response.WriteHeader on hijacked connection", slog.LevelWarn},
		{"/hijacked", false, "http: response.Write on hijacked connection", slog.LevelWarn},
		{"/length", false, "http: invalid Content-Length", slog.LevelWarn},
		{"/length-and-chunked", false, "http: WriteHeader called with both Transfer-Encoding", slog.LevelWarn},
		{"/dir/", false, "http: error reading directory", slog.LevelWarn},
	}
	h1 := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	h2 := ts.Client()
	for _, tt := range tests {
		c, url := h1, "http://"+addr+tt.path
		if tt.http2 {
			c, url = h2, ts.URL+tt.path
		}
		if resp, err := c.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if tt.http2 != (resp.ProtoMajor == 2) {
				t.Errorf("%s: answered over %s", tt.path, resp.Proto)
			}
		}
	}
	h2.CloseIdleConnections()

	// A client sending plain HTTP to the TLS port: net/http logs a failed handshake.
	plain, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_, _ = bufio.NewReader(plain).ReadString('\n')
	plain.Close()
	tests = append(tests, struct {
		path   string
		http2  bool
		prefix string
		level  slog.Level
	}{"(plain HTTP on TLS)", false, "http: TLS handshake error", slog.LevelDebug})

	// The lines come from the servers' goroutines: wait for them all.
	deadline := time.Now().Add(30 * time.Second)
	for _, tt := range tests {
		for {
			var found *slog.Record
			for _, r := range recs.all() {
				if strings.HasPrefix(r.Message, tt.prefix) {
					found = &r
					break
				}
			}
			if found != nil {
				if found.Level != tt.level {
					t.Errorf("%s: %q logged at %v, want %v", tt.path, found.Message, found.Level, tt.level)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no line beginning %q; got %v", tt.path, tt.prefix, recs.all())
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
