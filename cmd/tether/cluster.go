package main

// Running several server processes as one cluster over Redis: the --redis,
// --redis-adapter and --name flags that "tether serve" and "tether testserver"
// share, and the test server's cluster extensions.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/socketio"
)

// The adapter kinds --redis-adapter accepts; the first is the default.
const (
	adapterPubSub  = "pubsub"
	adapterSharded = "sharded"
	adapterStreams = "streams"
)

const (
	// redisPingTimeout bounds the start-up check of Redis: long enough for a
	// server across a network, short enough not to hold up a start when it is down.
	redisPingTimeout = 2 * time.Second
	// clusterRequestTimeout bounds fetch-sockets across the cluster.
	clusterRequestTimeout = 5 * time.Second
	// whoamiTimeout bounds server-side-emit, as the cluster extensions say.
	whoamiTimeout = 2 * time.Second
)

// clusterFlags are the command-line flags that make a server a node of a cluster.
type clusterFlags struct {
	fs       *flag.FlagSet
	redisURL string
	kind     string
	name     string
	workers  int
}

// addClusterFlags defines the cluster flags on fs.
func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	f := &clusterFlags{fs: fs}
	fs.StringVar(&f.redisURL, "redis", "", "join a cluster over the Redis server at this `URL` (redis://host:port/db)")
	fs.StringVar(&f.kind, "redis-adapter", adapterPubSub,
		"with --redis, the `adapter`: pubsub, sharded (Redis 7 sharded pub/sub) or streams\n(Redis streams; connection state recovery then works across nodes)")
	fs.StringVar(&f.name, "name", "", "with --redis, this node's `name` in the cluster (default tether-PORT)")
	fs.IntVar(&f.workers, "redis-workers", 0, "with --redis, the `goroutines` that deliver one broadcast of another node (default GOMAXPROCS;\n1: the goroutine reading Redis alone)")
	return f
}

// clusterUsage is the paragraph server commands add to their description.
const clusterUsage = "With --redis, several of these servers on one Redis form one cluster: broadcasts,\n" +
	"rooms, fetchSockets and serverSideEmit reach every node. The cluster speaks the\n" +
	"protocol of Node's @socket.io/redis-adapter (pubsub), its sharded variant\n" +
	"(sharded) or @socket.io/redis-streams-adapter (streams), so Node servers using\n" +
	"the same Redis and key join it too."

// cluster is a node's membership of a cluster: its Redis client and the
// adapter its namespaces use.
type cluster struct {
	kind    string
	name    string // "" until the node listens, when it defaults to tether-PORT
	workers int    // --redis-workers: DeliveryWorkers
	opt     *goredis.Options
	rdb     *goredis.Client
	// obs, when set, is told of the adapter's faults (--metrics).
	obs redis.Observer
}

// open checks the cluster flags and, with --redis, connects to Redis. It
// returns a nil cluster without --redis. On a usage error it says so on
// stderr and returns ok false: the command exits with status 2. Redis being
// down is no error: open warns and the adapter connects once it is back.
func (f *clusterFlags) open(ctx context.Context, cmd string, logger *slog.Logger, stderr io.Writer) (c *cluster, ok bool) {
	if f.redisURL == "" {
		var set []string
		f.fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "redis-adapter" || fl.Name == "name" || fl.Name == "redis-workers" {
				set = append(set, "--"+fl.Name)
			}
		})
		if len(set) > 0 {
			fmt.Fprintf(stderr, "tether %s: %s needs --redis\n", cmd, set[0])
			return nil, false
		}
		return nil, true
	}
	switch f.kind {
	case adapterPubSub, adapterSharded, adapterStreams:
	default:
		fmt.Fprintf(stderr, "tether %s: --redis-adapter %q: want pubsub, sharded or streams\n", cmd, f.kind)
		return nil, false
	}
	opt, err := goredis.ParseURL(f.redisURL)
	if err != nil {
		fmt.Fprintf(stderr, "tether %s: --redis: %v\n", cmd, err)
		return nil, false
	}
	// go-redis logs each failed dial on stderr; the adapters already report an outage once, so
	// its own lines are for --log-level debug only. The setting is process-wide, as the command is.
	goredis.SetLogger(redisLogger{logger})
	c = &cluster{kind: f.kind, name: f.name, workers: f.workers, opt: opt, rdb: goredis.NewClient(opt)}

	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		fmt.Fprintf(stderr, "tether %s: warning: Redis at %s is unreachable (%v); starting anyway, the adapter reconnects\n",
			cmd, c.where(), err)
	}
	return c, true
}

// redisLogger passes go-redis's log lines to a slog.Logger, at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
}

// where names the Redis server without the URL's credentials.
func (c *cluster) where() string {
	return fmt.Sprintf("%s db %d", c.opt.Addr, c.opt.DB)
}

// listening names the node after the port of ln unless --name did, and
// tells on stdout which cluster it has joined.
func (c *cluster) listening(cmd string, ln net.Listener, stdout io.Writer) {
	if c.name == "" {
		port := "0"
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			port = fmt.Sprint(a.Port)
		}
		c.name = "tether-" + port
	}
	fmt.Fprintf(stdout, "tether %s: node %s of the cluster on Redis %s (%s adapter)\n", cmd, c.name, c.where(), c.kind)
}

// adapter returns the adapter constructor for ServerOptions.Adapter.
func (c *cluster) adapter(logger *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
	switch c.kind {
	case adapterSharded:
		return redis.NewShardedAdapter(c.rdb, &redis.ShardedOptions{Logger: logger, Observer: c.obs, DeliveryWorkers: c.workers})
	case adapterStreams:
		return redis.NewStreamsAdapter(c.rdb, &redis.StreamsOptions{Logger: logger, Observer: c.obs, DeliveryWorkers: c.workers})
	default:
		return redis.NewAdapter(c.rdb, &redis.Options{Logger: logger, Observer: c.obs, DeliveryWorkers: c.workers})
	}
}

// close closes the Redis client; the server must have shut down first, as
// its adapters publish until then. Closing a nil cluster does nothing.
func (c *cluster) close() {
	if c != nil {
		_ = c.rdb.Close()
	}
}

// recoveryHint is printed when --recovery meets an adapter that keeps
// sessions in the memory of one node.
func recoveryHint(cmd, kind string) string {
	return fmt.Sprintf("tether %s: note: with --redis-adapter %s, a session is recovered only by the node that held it; "+
		"--redis-adapter streams recovers it on any node\n", cmd, kind)
}

// addClusterEvents adds the cluster extensions of the test server to
// namespace /: the events fetch-sockets and server-side-emit from clients,
// and whoami from the other nodes, which node name answers.
func addClusterEvents(root *socketio.Namespace, name string) {
	root.OnServerSideEmit("whoami", func() string { return name })
	root.On("fetch-sockets", func() any {
		ctx, cancel := context.WithTimeout(context.Background(), clusterRequestTimeout)
		defer cancel()
		sockets, err := root.FetchSockets(ctx)
		if err != nil {
			return errorAck(err)
		}
		ids := make([]string, 0, len(sockets))
		for _, s := range sockets {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		return ids
	})
	root.On("server-side-emit", func() any {
		ctx, cancel := context.WithTimeout(context.Background(), whoamiTimeout)
		defer cancel()
		answers, err := root.ServerSideEmitWithAck(ctx, "whoami")
		if err != nil {
			return errorAck(err)
		}
		names := make([]string, 0, len(answers))
		for _, a := range answers {
			var n string
			if err := a.Decode(&n); err != nil {
				return errorAck(fmt.Errorf("whoami answered %v: %w", a.Values(), err))
			}
			names = append(names, n)
		}
		slices.Sort(names)
		return names
	})
}

// errorAck is the acknowledgement of a cluster request that failed.
func errorAck(err error) map[string]string {
	return map[string]string{"error": err.Error()}
}
