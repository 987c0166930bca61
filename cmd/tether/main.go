// Command tether is Tether's command-line tool: a demo, test servers and an
// interactive client for the real-time protocols Tether implements.
//
// Usage:
//
//	tether <command> [flags] [arguments]
//
// Run "tether help" for the list of commands and "tether <command> -h" for
// the flags of one command.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// A command is one subcommand of the tether binary. Its run function gets
// the arguments after the command name and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands returns the subcommands in the order "tether help" lists them.
// It is a function, not a package variable, because "help" refers back to it.
func commands() []command {
	return []command{
		{"serve", "run the demo: a Socket.IO chat page", runServe},
		{"testserver", "run the Engine.IO/Socket.IO test server", runTestServer},
		{"echo", "run the WebSocket echo test server", runEcho},
		{"connect", "connect to a WebSocket or Socket.IO server and exchange messages", runConnect},
		{"bench", "load a WebSocket or Socket.IO server and measure it", runBench},
		{"help", "list the commands", runHelp},
	}
}

func main() {
	// The context is canceled on SIGINT/SIGTERM; every command treats that as
	// a request for a graceful shutdown, not as a failure.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code: 0 on success,
// 1 on a runtime failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// A missing command is a usage error, as for go and git: a script that forgot it
		// must not carry on as if something ran.
		printCommands(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tether: unknown command %q\n", name)
	fmt.Fprintln(stderr, `Run "tether help" for the list of commands.`)
	return 2
}

func runHelp(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printCommands(stdout)
		return 0
	}
	if len(args) == 1 && args[0] != "help" {
		for _, c := range commands() {
			if c.name == args[0] {
				// Every command prints its usage on -h and exits 0.
				return c.run(context.Background(), []string{"-h"}, nil, stdout, stderr)
			}
		}
	}
	fmt.Fprintf(stderr, "tether help: unknown command %q\n", args[0])
	return 2
}

func printCommands(w io.Writer) {
	fmt.Fprint(w, "Tether: real-time toolkit for Go.\n\nUsage:\n\n\ttether <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"tether <command> -h\" for the flags of a command.\n")
}

// parseFlags parses args with fs. It returns done=true when the caller must
// return code at once: after -h/--help (usage on stdout, code 0) or after a
// bad flag (error and usage on stderr, code 2). Output is buffered so help
// goes to stdout while errors go to stderr, as users expect of both.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (done bool, code int) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	switch {
	case err == nil:
		return false, 0
	case errors.Is(err, flag.ErrHelp):
		stdout.Write(buf.Bytes())
		return true, 0
	default:
		stderr.Write(buf.Bytes())
		return true, 2
	}
}

// parseInterspersed is parseFlags for commands whose flags may come after
// their positional arguments (tether connect URL --emit ...), which the flag
// package stops at; after "--" every argument is positional.
func parseInterspersed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (positional []string, done bool, code int) {
	for {
		if done, code := parseFlags(fs, args, stdout, stderr); done {
			return nil, true, code
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, false, 0
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), false, 0
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageFunc returns a flag.FlagSet Usage function printing a synopsis and
// a description before the flag defaults.
func usageFunc(fs *flag.FlagSet, synopsis, description string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, description)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
}

// listenAndServe listens on addr, says so in one line once connections are accepted, and runs
// serve until ctx ends. It returns the command's exit status.
func listenAndServe(ctx context.Context, name, scheme, addr string, serve func(context.Context, net.Listener) error, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "tether %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, "tether %s: listening on %s://%s\n", name, scheme, ln.Addr())
	if err := serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "tether %s: %v\n", name, err)
		return 1
	}
	return 0
}
