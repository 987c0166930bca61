#!/usr/bin/env bash
# fanout.sh: what a broadcast costs a Redis cluster of Tether nodes (issue 17,
# docs/CAPACITY.md, "A Redis cluster: nodes for a given fan-out").
#
# It starts a redis-server on a free loopback port and two "tether testserver
# --redis" nodes, A and B, with production heartbeats. "tether bench idle"
# holds SUBS_B Socket.IO connections on B; "tether bench broadcast" holds
# SUBS_A subscribers on A plus one publisher, which emits a 100-byte broadcast
# every INTERVAL; every broadcast reaches the subscribers of both nodes, B's
# through Redis. Once everything runs, it samples both nodes' and Redis's CPU
# time (/proc/PID/stat) and Redis's counters (INFO: publishes, network bytes)
# at the start and the end of a WINDOW-second window, less what each spent
# when idle (measured for 5 s before the load starts), and prints per
# delivery, the CPU of each node, and per broadcast, Redis's CPU and bytes.
#
# Usage:
#   scripts/fanout.sh                            # 2,000 + 2,000 subscribers, 10 broadcasts/s
#   SUBS_A=500 SUBS_B=4000 scripts/fanout.sh     # another split, to separate per-broadcast
#                                                # from per-delivery cost
#   EXTRA=2 scripts/fanout.sh                    # two more nodes without subscribers: what a
#                                                # broadcast costs a node that delivers nothing,
#                                                # and Redis one more subscribing node
#   ADAPTER=sharded scripts/fanout.sh            # the sharded pub/sub adapter (Redis 7)
#   WORKERS=1 scripts/fanout.sh                  # each node delivers other nodes' broadcasts
#                                                # from one goroutine (--redis-workers; default
#                                                # GOMAXPROCS)
set -euo pipefail

SUBS_A=${SUBS_A:-2000}
SUBS_B=${SUBS_B:-2000}
INTERVAL=${INTERVAL:-100ms}
WINDOW=${WINDOW:-20}
ADAPTER=${ADAPTER:-pubsub}
EXTRA=${EXTRA:-0}
WORKERS=${WORKERS:-0}
RESULTS_DIR=${RESULTS_DIR:-${TMPDIR:-/tmp}/tether-fanout/$(date +%Y%m%d-%H%M%S)}
GO=${GO:-go}

die() { echo "fanout: $*" >&2; exit 2; }
[[ $EXTRA =~ ^[0-9]+$ ]] || die "EXTRA=$EXTRA: want a number"
[[ $WORKERS =~ ^[0-9]+$ ]] || die "WORKERS=$WORKERS: want a number (0: GOMAXPROCS)"
for v in SUBS_A SUBS_B WINDOW; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: want a positive number"
done
case $ADAPTER in
pubsub) pubcmd=publish ;;
sharded) pubcmd=spublish ;;
*) die "ADAPTER=$ADAPTER: want pubsub or sharded (streams publishes other commands too)" ;;
esac
command -v redis-server >/dev/null || die "needs redis-server"
command -v redis-cli >/dev/null || die "needs redis-cli"
ulimit -n "$(ulimit -Hn)"

repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$RESULTS_DIR"
out=$(cd "$RESULTS_DIR" && pwd)
bin=$out/tether
pids=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 100); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}

(cd "$repo" && "$GO" build -o "$bin" ./cmd/tether)

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$out/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
rcli() { redis-cli -p "$rport" "$@"; }
for _ in $(seq 50); do
	[[ $(rcli ping 2>/dev/null) == PONG ]] && break
	sleep 0.1
done
[[ $(rcli ping 2>/dev/null) == PONG ]] || die "redis-server did not start (see $out/redis.log)"

# cpu PID prints the process's user+system CPU time in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# redis_figures prints publishes, bytes in, bytes out, CPU seconds (all threads) and
# the size of its own INFO reply, which the next sample's bytes out include.
redis_figures() {
	local info pubs bin bout rcpu
	info=$(rcli info stats commandstats cpu | tr -d '\r')
	pubs=$(sed -n "s/^cmdstat_$pubcmd:calls=\([0-9]*\),.*/\1/p" <<<"$info")
	bin=$(sed -n 's/^total_net_input_bytes:\([0-9]*\)/\1/p' <<<"$info")
	bout=$(sed -n 's/^total_net_output_bytes:\([0-9]*\)/\1/p' <<<"$info")
	rcpu=$(awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }' <<<"$info")
	# Before the first publish there is no cmdstat line: 0, so that no field is empty.
	echo "${pubs:-0} ${bin:-0} ${bout:-0} ${rcpu:-0} $(($(wc -c <<<"$info") + 16))"
}
# start_node NAME starts a node and sets node_pid, node_addr and node_debug.
start_node() {
	: >"$out/$1.out" # before the server writes it: the loop below reads it at once
	"$bin" testserver --addr 127.0.0.1:0 --debug-addr 127.0.0.1:0 --connect-timeout 45s \
		--ping-interval 25s --ping-timeout 20s --redis "redis://127.0.0.1:$rport" \
		--redis-adapter "$ADAPTER" --redis-workers "$WORKERS" --name "$1" >"$out/$1.out" 2>"$out/$1.log" &
	node_pid=$!
	pids+=("$node_pid")
	node_addr='' node_debug=''
	for _ in $(seq 100); do
		node_addr=$(sed -n 's#^tether testserver: listening on http://##p' "$out/$1.out")
		node_debug=$(sed -n 's#^tether testserver: debug figures on http://\([^/]*\)/.*#\1#p' "$out/$1.out")
		[[ -n $node_addr && -n $node_debug ]] && return
		sleep 0.1
	done
	die "node $1 did not start (see $out)"
}
start_node node-a
a_pid=$node_pid a_addr=$node_addr a_debug=$node_debug
start_node node-b
b_pid=$node_pid b_addr=$node_addr b_debug=$node_debug
extra_pids=()
for i in $(seq "$EXTRA"); do
	start_node "node-x$i"
	extra_pids+=("$node_pid")
done

sockets() { curl -fs --max-time 10 "http://$1/debug/stats" | sed -n 's/.*"sockets":\([0-9]*\).*/\1/p'; }
# wait_sockets DEBUG N waits until the node has N sockets.
wait_sockets() {
	for _ in $(seq 240); do
		[[ $(sockets "$1") == "$2" ]] && return
		sleep 0.5
	done
	die "node at $1 has $(sockets "$1") sockets, not $2 (see $out)"
}

# Redis's own background work (its cron, the nodes' idle connections), subtracted below.
# The nodes' too: the extra nodes' is most of what they spend.
xcpu() {
	local p x=0
	for p in "${extra_pids[@]}"; do x=$((x + $(cpu "$p"))); done
	echo "$x"
}
read -r _ _ _ idle0 _ < <(redis_figures)
xi0=$(xcpu) ai0=$(cpu "$a_pid") bi0=$(cpu "$b_pid") ti0=$(date +%s.%N)
sleep 5
read -r _ _ _ idle1 _ < <(redis_figures)
xi1=$(xcpu) ai1=$(cpu "$a_pid") bi1=$(cpu "$b_pid") ti1=$(date +%s.%N)
rate() { awk -v a="$1" -v b="$2" -v t0="$ti0" -v t1="$ti1" 'BEGIN { print (b - a) / (t1 - t0) }'; }
redis_idle_rate=$(rate "$idle0" "$idle1")
# In clock ticks per second.
x_idle_rate=$(rate "$xi0" "$xi1") a_idle_rate=$(rate "$ai0" "$ai1") b_idle_rate=$(rate "$bi0" "$bi1")

"$bin" bench idle --url "http://$b_addr" --conns "$SUBS_B" --settle "$((WINDOW + 300))s" --json \
	>"$out/bench-b.json" 2>"$out/bench-b.err" &
pids+=($!)
wait_sockets "$b_debug" "$SUBS_B"

"$bin" bench broadcast --url "http://$a_addr" --conns "$SUBS_A" --interval "$INTERVAL" --size 100 \
	--warmup 2s --duration "$((WINDOW + 30))s" --json --pid "$a_pid" \
	>"$out/bench-a.json" 2>"$out/bench-a.err" &
bench_a=$!
pids+=("$bench_a")
wait_sockets "$a_debug" "$((SUBS_A + 1))"
sleep 5 # the publisher's warm-up, and a margin

read -r pub0 in0 out0 rcpu0 info0 < <(redis_figures)
x0=$(xcpu)
a0=$(cpu "$a_pid") b0=$(cpu "$b_pid") t0=$(date +%s.%N)
sleep "$WINDOW"
read -r pub1 in1 out1 rcpu1 _ < <(redis_figures)
a1=$(cpu "$a_pid") b1=$(cpu "$b_pid") t1=$(date +%s.%N)
x1=$(xcpu)
a_sockets=$(sockets "$a_debug") b_sockets=$(sockets "$b_debug")

tck=$(getconf CLK_TCK)
awk -v pubs="$((pub1 - pub0))" -v bin="$((in1 - in0))" -v bout="$((out1 - out0 - info0))" \
	-v rcpu="$(awk -v a="$rcpu0" -v b="$rcpu1" -v idle="$redis_idle_rate" -v t0="$t0" -v t1="$t1" 'BEGIN { print b - a - idle * (t1 - t0) }')" \
	-v ridle="$redis_idle_rate" \
	-v acpu="$(awk -v a="$a0" -v b="$a1" -v r="$a_idle_rate" -v t0="$t0" -v t1="$t1" 'BEGIN { print b - a - r * (t1 - t0) }')" \
	-v bcpu="$(awk -v a="$b0" -v b="$b1" -v r="$b_idle_rate" -v t0="$t0" -v t1="$t1" 'BEGIN { print b - a - r * (t1 - t0) }')" \
	-v xcpu="$(awk -v a="$x0" -v b="$x1" -v r="$x_idle_rate" -v t0="$t0" -v t1="$t1" 'BEGIN { print b - a - r * (t1 - t0) }')" \
	-v extra="$EXTRA" -v tck="$tck" -v workers="$WORKERS" \
	-v sa="$SUBS_A" -v sb="$SUBS_B" -v t0="$t0" -v t1="$t1" -v adapter="$ADAPTER" '
BEGIN {
	secs = t1 - t0
	if (pubs <= 0) { print "fanout: no broadcast was published in the window" > "/dev/stderr"; exit 1 }
	printf "fanout: adapter %s, %s delivery workers, %d subscribers on node A (and the publisher), %d on node B, %.1f s window\n", adapter, (workers > 0 ? workers : "GOMAXPROCS"), sa, sb, secs
	printf "broadcasts          %d (%.1f/s); deliveries A %d, B %d (%.0f/s in all)\n", pubs, pubs / secs, pubs * sa, pubs * sb, pubs * (sa + sb) / secs
	printf "node A CPU          %.2f s: %.2f µs per delivery, %.1f µs per broadcast\n", acpu / tck, acpu / tck * 1e6 / (pubs * sa), acpu / tck * 1e6 / pubs
	printf "node B CPU          %.2f s: %.2f µs per delivery, %.1f µs per broadcast\n", bcpu / tck, bcpu / tck * 1e6 / (pubs * sb), bcpu / tck * 1e6 / pubs
	if (extra > 0) printf "nodes without subscribers: %d, CPU %.2f s: %.1f µs per broadcast each\n", extra, xcpu / tck, xcpu / tck * 1e6 / pubs / extra
	printf "redis CPU           %.3f s above its idle %.1f ms/s: %.1f µs per broadcast\n", rcpu, ridle * 1e3, rcpu * 1e6 / pubs
	printf "redis network       %.0f bytes in, %.0f bytes out per broadcast\n", bin / pubs, bout / pubs
	printf "RESULT extra=%d x_us_per_broadcast=%.1f ", extra, (extra > 0 ? xcpu / tck * 1e6 / pubs / extra : 0)
	printf "workers=%d adapter=%s subs_a=%d subs_b=%d broadcasts=%d secs=%.2f a_us_per_delivery=%.3f b_us_per_delivery=%.3f a_us_per_broadcast=%.1f b_us_per_broadcast=%.1f redis_us_per_broadcast=%.2f redis_in=%.0f redis_out=%.0f\n", \
		workers, adapter, sa, sb, pubs, secs, acpu / tck * 1e6 / (pubs * sa), bcpu / tck * 1e6 / (pubs * sb), acpu / tck * 1e6 / pubs, bcpu / tck * 1e6 / pubs, rcpu * 1e6 / pubs, bin / pubs, bout / pubs
}' | tee "$out/result.txt"
[[ $a_sockets == "$((SUBS_A + 1))" && $b_sockets == "$SUBS_B" ]] ||
	die "sockets lost during the window: A has $a_sockets, B $b_sockets (see $out)"
echo "results in $out"
