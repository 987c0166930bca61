package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// logFlags are the logging flags of the commands that serve: --log-format, --log-level and
// --verbose, which is --log-level debug.
type logFlags struct {
	fs      *flag.FlagSet
	format  string
	level   string
	verbose bool
}

func addLogFlags(fs *flag.FlagSet) *logFlags {
	f := &logFlags{fs: fs}
	fs.StringVar(&f.format, "log-format", "text", "log lines on stderr as `text` (key=value) or json (one object a line)")
	fs.StringVar(&f.level, "log-level", "info", "log lines of this `level` and above: debug, info, warn or error")
	fs.BoolVar(&f.verbose, "verbose", false, "log every session and error: --log-level debug")
	return f
}

// logger returns the logger the flags ask for, writing to w, or a usage error. An explicit
// --log-level wins over --verbose.
func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(f.level) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.level)
	}
	if f.verbose && !f.set("log-level") {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.format)
}

// set reports whether the flag name was given on the command line.
func (f *logFlags) set(name string) bool {
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}
