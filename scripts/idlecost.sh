#!/usr/bin/env bash
# idlecost.sh: what an idle connection costs the server (issue 17, docs/CAPACITY.md).
# It starts "tether testserver" with production heartbeats (25 s / 20 s), opens
# CONNS silent connections with "tether bench idle", and once they are all in
# reads the server's RSS (/proc/PID/status), goroutines, live heap and stacks
# (/debug/stats), the kernel's slab and TCP memory (/proc/meminfo,
# /proc/net/sockstat: both ends are on this machine, so that is two sockets per
# connection) and its descriptors, then saves a heap and a goroutine profile.
#
# Usage:
#   scripts/idlecost.sh              # 5,000 idle Socket.IO connections
#   PROTO=eio CONNS=10000 scripts/idlecost.sh   # plain Engine.IO over WebSocket
#   BLOCKING=1 scripts/idlecost.sh   # each WebSocket read by a goroutine of its own (the old way)
#   PING=1s CONNS=3000 scripts/idlecost.sh   # also the server CPU per heartbeat (ping and pong)
# Read the profiles with: go tool pprof -sample_index=inuse_space -top BIN heap.pb
set -euo pipefail

PROTO=${PROTO:-sio} # sio: Socket.IO in namespace /; eio: Engine.IO sessions over WebSocket
CONNS=${CONNS:-5000}
RESULTS_DIR=${RESULTS_DIR:-${TMPDIR:-/tmp}/tether-idlecost/$(date +%Y%m%d-%H%M%S)}
GO=${GO:-go}
BLOCKING=${BLOCKING:-} # non-empty: tether testserver --blocking-reads
PING=${PING:-25s}      # ping interval; below 25s, the heartbeats' CPU is measured too

die() { echo "idlecost: $*" >&2; exit 2; }
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS=$CONNS: want a positive number"
[[ $PROTO == sio || $PROTO == eio ]] || die "PROTO=$PROTO: want sio or eio"
[[ $PING =~ ^[1-9][0-9]*s$ ]] || die "PING=$PING: want whole seconds, e.g. 1s"
ulimit -n "$(ulimit -Hn)"

repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$RESULTS_DIR"
out=$(cd "$RESULTS_DIR" && pwd)
bin=$out/tether
server_pid='' bench_pid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[[ -z $bench_pid ]] || kill "$bench_pid" 2>/dev/null || true
	[[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

(cd "$repo" && "$GO" build -o "$bin" ./cmd/tether)
: >"$out/server.out" # read below before the server may have written to it
"$bin" testserver --addr 127.0.0.1:0 --debug-addr 127.0.0.1:0 --connect-timeout 45s \
	--ping-interval "$PING" --ping-timeout 20s ${BLOCKING:+--blocking-reads} >"$out/server.out" 2>"$out/server.log" &
server_pid=$!
addr='' debug=''
for _ in $(seq 100); do
	addr=$(sed -n 's#^tether testserver: listening on http://##p' "$out/server.out")
	debug=$(sed -n 's#^tether testserver: debug figures on http://\([^/]*\)/.*#\1#p' "$out/server.out")
	[[ -n $addr && -n $debug ]] && break
	sleep 0.1
done
[[ -n $addr && -n $debug ]] || die "the server did not start (see $out)"
sleep 1

# figures prints "rss_kib goroutines heap_live heap_inuse stack_inuse slab_kib tcp_pages fds".
figures() {
	local js f
	js=$(curl -fs --max-time 10 "http://$debug/debug/stats")
	printf '%s ' "$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")"
	for f in goroutines heap_live heap_inuse stack_inuse; do
		printf '%s ' "$(sed -n "s/.*\"$f\":\([0-9]*\).*/\1/p" <<<"$js")"
	done
	printf '%s ' "$(awk '/^Slab:/ { print $2 }' /proc/meminfo)"
	printf '%s ' "$(awk '/^TCP:/ { for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)"
	find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 | wc -l
}
read -r rss0 g0 live0 inuse0 stack0 slab0 tcp0 fd0 < <(figures)

if [[ $PROTO == sio ]]; then
	args=(--url "http://$addr")
else
	args=(--proto ws --url "ws://$addr/engine.io/?EIO=4&transport=websocket")
fi
"$bin" bench idle "${args[@]}" --conns "$CONNS" --pid "$server_pid" --settle 30s --json \
	>"$out/bench.json" 2>"$out/bench.err" &
bench_pid=$!
# Every connection is in when the server's descriptors stop growing at CONNS or more above
# the idle server's (an idle connection on readiness holds no goroutine to count).
prev=-1
for _ in $(seq 120); do
	sleep 1
	n=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	(( n - fd0 >= CONNS && n == prev )) && break
	prev=$n
done
sleep 3
read -r rss1 g1 live1 inuse1 stack1 slab1 tcp1 fd1 < <(figures)
curl -fs "http://$debug/debug/pprof/heap?gc=1" >"$out/heap.pb"
curl -fs "http://$debug/debug/pprof/goroutine?debug=1" >"$out/goroutines.txt"
# With frequent pings, the server's CPU over 10 s of nothing but heartbeats, and its profile.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ping_us=''
if [[ $PING != 25s ]]; then
	t0=$(cpu_ticks) s0=$(date +%s.%N)
	curl -fs "http://$debug/debug/pprof/profile?seconds=10" >"$out/heartbeat-cpu.pb"
	t1=$(cpu_ticks) s1=$(date +%s.%N)
	ping_us=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v s="$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" \
		-v n="$CONNS" -v p="${PING%s}" 'BEGIN { printf "%.1f", t / hz * 1e6 / (s * n / p) }')
fi
wait "$bench_pid" || die "tether bench failed: $(cat "$out/bench.err")"
bench_pid=''
grep -q '"errors": 0' "$out/bench.json" || die "connections failed: see $out/bench.json"

per() { awk -v a="$1" -v b="$2" -v d="$3" -v n="$CONNS" 'BEGIN { printf "%.2f", (a - b) / d / n }'; }
{
	echo "### Idle cost: $CONNS $PROTO connections${BLOCKING:+, blocking reads}, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), Tether $(cd "$repo" && git rev-parse --short HEAD)"
	echo
	echo "| per connection | value |"
	echo "|---|---|"
	echo "| server RSS (KiB) | $(per "$rss1" "$rss0" 1) |"
	echo "| live heap (KiB) | $(per "$live1" "$live0" 1024) |"
	echo "| heap in use (KiB) | $(per "$inuse1" "$inuse0" 1024) |"
	echo "| goroutine stacks (KiB) | $(per "$stack1" "$stack0" 1024) |"
	echo "| goroutines | $(per "$g1" "$g0" 1) |"
	echo "| descriptors | $(per "$fd1" "$fd0" 1) |"
	echo "| kernel slab, both ends (KiB; noisy) | $(per "$slab1" "$slab0" 1) |"
	echo "| kernel TCP buffer pages, both ends | $(per "$tcp1" "$tcp0" 1) |"
	[[ -z $ping_us ]] || echo "| server CPU per heartbeat, ping every $PING (µs) | $ping_us |"
} | tee "$out/summary.md"
echo "idlecost: profiles in $out (go tool pprof -sample_index=inuse_space -top $bin $out/heap.pb)"
