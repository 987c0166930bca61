package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-rt/tether/socketio"
)

// Mode says whether the UI gets a message for each socket, room and event change.
type Mode string

const (
	// ModeDevelopment sends every change as it happens, and all_sockets on connection. It is
	// the default, as in Node when NODE_ENV is not set.
	ModeDevelopment Mode = "development"
	// ModeProduction sends only the periodic server_stats, so that a busy server does not
	// send the UI one message per event.
	ModeProduction Mode = "production"
)

// BasicAuth is the one login the admin namespace accepts.
type BasicAuth struct {
	Username string
	// PasswordHash is the bcrypt hash of the password (bcrypt.GenerateFromPassword, or the
	// $2a$/$2b$/$2y$ hashes Node's bcryptjs makes).
	PasswordHash string
}

// Options configures Instrument. Auth or NoAuth must be set, as Node requires auth to be set
// or explicitly false.
type Options struct {
	// NamespaceName is the admin namespace; default "/admin".
	NamespaceName string
	// Auth is the login the UI must give; see BasicAuth.
	Auth *BasicAuth
	// NoAuth lets anyone who reaches the server connect to the admin namespace: only for a
	// server on loopback or behind its own authentication.
	NoAuth bool
	// ReadOnly refuses the UI's operations (emit, join, leave, disconnect): it only watches.
	ReadOnly bool
	// ServerID names this node in the UI; default the host name.
	ServerID string
	// Mode is ModeDevelopment (the default) or ModeProduction.
	Mode Mode
	// StatsInterval is the period of server_stats; default 2 s.
	StatsInterval time.Duration
}

// Errors of Instrument.
var (
	ErrNoAuth   = errors.New("admin: Options.Auth must be set, or Options.NoAuth")
	ErrBadHash  = errors.New("admin: Options.Auth.PasswordHash is not a bcrypt hash")
	ErrBadMode  = errors.New(`admin: Options.Mode must be "development" or "production"`)
	errNoServer = errors.New("admin: nil server")
)

// queueSize bounds the messages waiting for the goroutine that sends them to the UI. When a
// burst outruns it (the adapter is slow, or a very busy server in development mode), messages
// are dropped rather than slowing the sockets whose events they describe; Dropped counts them.
const queueSize = 4096

// fetchTimeout bounds the gathering of all_sockets across the cluster.
const fetchTimeout = 5 * time.Second

// Admin is an instrumented server. Close stops it.
type Admin struct {
	srv     *socketio.Server
	nsp     *socketio.Namespace
	opts    Options
	verbose bool
	started time.Time
	host    string
	feature []string

	ctx    context.Context
	cancel context.CancelFunc
	out    chan message
	done   chan struct{} // closed when the sender and the stats loop have returned
	closed atomic.Bool

	dropped atomic.Int64

	mu       sync.Mutex
	watched  map[*socketio.Namespace]bool
	sockets  map[*socketio.Socket]socketState // the local sockets
	clients  map[string]int                   // local client ids and their number of sockets
	events   *eventBuffer
	sessions *sessionStore
	logins   chan struct{} // a slot per password check running
}

// message is one emit to the admin namespace.
type message struct {
	event string
	args  []any
}

// Instrument makes srv serve the Admin UI's namespace and report to it, as Node's
// instrument(io, opts). It watches every namespace, those made later included.
func Instrument(srv *socketio.Server, opts *Options) (*Admin, error) {
	if srv == nil {
		return nil, errNoServer
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.NamespaceName == "" {
		o.NamespaceName = "/admin"
	}
	if o.Mode == "" {
		o.Mode = ModeDevelopment
	}
	if o.Mode != ModeDevelopment && o.Mode != ModeProduction {
		return nil, ErrBadMode
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = 2 * time.Second
	}
	if o.Auth == nil && !o.NoAuth {
		return nil, ErrNoAuth
	}
	if o.Auth != nil {
		if _, err := bcrypt.Cost([]byte(o.Auth.PasswordHash)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadHash, err)
		}
	}
	host, _ := os.Hostname()
	if o.ServerID == "" {
		o.ServerID = host
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Admin{
		srv:      srv,
		opts:     o,
		verbose:  o.Mode == ModeDevelopment,
		started:  time.Now(),
		host:     host,
		ctx:      ctx,
		cancel:   cancel,
		out:      make(chan message, queueSize),
		done:     make(chan struct{}),
		watched:  map[*socketio.Namespace]bool{},
		sockets:  map[*socketio.Socket]socketState{},
		clients:  map[string]int{},
		events:   newEventBuffer(),
		sessions: newSessionStore(),
		logins:   make(chan struct{}, maxLogins),
	}
	if !o.ReadOnly {
		a.feature = []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"}
	}
	a.feature = append(a.feature, "AGGREGATED_EVENTS")
	if a.verbose {
		a.feature = append(a.feature, "ALL_EVENTS")
	}

	a.nsp = srv.Of(o.NamespaceName)
	a.nsp.Use(a.authenticate)
	a.nsp.OnConnect(a.onAdminConnect)

	// The hook first, then the list: a namespace made in between is in both, and watch
	// takes it once.
	srv.OnNewNamespace(a.watch)
	for _, n := range srv.Namespaces() {
		a.watch(n)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.send() }()
	go func() { defer wg.Done(); a.statsLoop() }()
	go func() { wg.Wait(); close(a.done) }()
	return a, nil
}

// Namespace returns the admin namespace.
func (a *Admin) Namespace() *socketio.Namespace { return a.nsp }

// Dropped returns the number of messages to the UI dropped because the queue was full.
func (a *Admin) Dropped() int64 { return a.dropped.Load() }

// Close stops the reports and the operations. The hooks it registered on the server stay but
// do nothing; the admin namespace stays too, with its sockets, which the server's Shutdown
// closes. It waits for the goroutines it started, up to ctx's end.
func (a *Admin) Close(ctx context.Context) error {
	if a.closed.CompareAndSwap(false, true) {
		a.cancel()
	}
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emit queues a message to every UI socket, on every node; it never blocks.
func (a *Admin) emit(event string, args ...any) {
	if a.closed.Load() {
		return
	}
	select {
	case a.out <- message{event, args}:
	default:
		a.dropped.Add(1)
	}
}

// send emits the queued messages in order, off the goroutines of the sockets they describe
// and off the adapters' locks (room events arrive with one held).
func (a *Admin) send() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case m := <-a.out:
			// An error means the adapter could not publish; the next stats will do.
			_ = a.nsp.Emit(m.event, m.args...)
		}
	}
}

// timestamp is a time as JavaScript's Date serializes to JSON, which the UI parses.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
