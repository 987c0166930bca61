package httpserver

import (
	"bytes"
	"context"
	"log/slog"
)

// surfaced are the beginnings of the lines net/http writes to
// http.Server.ErrorLog that tell of a bug in the server rather than of what a
// client did, with the level they are logged at. Any other line (a failed TLS
// handshake, an HTTP/2 client's error, lines a later Go release adds) is
// logged at debug level, so that no client can fill the log by itself.
// TestErrorLogLevels makes net/http write each of them, to notice a change
// of wording in a new Go release.
var surfaced = []struct {
	prefix string
	level  slog.Level
}{
	{"http: panic serving ", slog.LevelError},
	{"http2: panic serving ", slog.LevelError},
	{"http: superfluous response.WriteHeader call", slog.LevelWarn},
	{"http: response.WriteHeader on hijacked connection", slog.LevelWarn},
	{"http: response.Write on hijacked connection", slog.LevelWarn},
	{"http: WriteHeader called with both Transfer-Encoding", slog.LevelWarn},
	{"http: invalid Content-Length", slog.LevelWarn},
	{"http: error reading directory", slog.LevelWarn},
}

// errorLog is the io.Writer under http.Server.ErrorLog: the log.Logger
// writes each line with one call.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Write(p []byte) (int, error) {
	level := slog.LevelDebug
	for _, s := range surfaced {
		if bytes.HasPrefix(p, []byte(s.prefix)) {
			level = s.level
			break
		}
	}
	ctx := context.Background()
	if e.log.Enabled(ctx, level) {
		e.log.Log(ctx, level, string(bytes.TrimSuffix(p, []byte("\n"))), "from", "net/http")
	}
	return len(p), nil
}
