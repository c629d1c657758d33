#!/usr/bin/env bash
# Measures the health engine with 10,000 http checks against loopback
# targets: a new connection per probe, then keep-alive, then haproxy as a
# peer if it is installed. Each run gets a fresh backend pinned to CPU 1;
# the checker (and haproxy) run on CPU 0. About 105 s in all.
#
#   bash bench/health/run.sh                 # defaults
#   N=2000 WINDOW=10s bash bench/health/run.sh
#   PROFILE=/tmp/prof bash bench/health/run.sh   # CPU profiles of the windows
#   PEER=0 bash bench/health/run.sh          # skip haproxy
set -euo pipefail

cd "$(dirname "$0")/../.."
N=${N:-10000}
WARMUP=${WARMUP:-5s}
WINDOW=${WINDOW:-20s}
PEER=${PEER:-1}

tmp=$(mktemp -d)
backend_pid=
cleanup() {
	if [[ -n $backend_pid ]]; then
		kill "$backend_pid" 2>/dev/null || true
		wait "$backend_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/healthbench" ./bench/health

# start_backend starts a backend on CPU 1 and sets ctl to its control address.
start_backend() {
	rm -f "$tmp/ready"
	taskset -c 1 "$tmp/healthbench" -backend -ready "$tmp/ready" &
	backend_pid=$!
	for _ in $(seq 100); do
		[[ -s $tmp/ready ]] && break
		sleep 0.05
	done
	ctl=$(cat "$tmp/ready")
}

stop_backend() {
	kill "$backend_pid"
	wait "$backend_pid" 2>/dev/null || true
	backend_pid=
}

# measure runs the checker on CPU 0 against a fresh backend, bounded.
measure() {
	start_backend
	timeout 80s taskset -c 0 "$tmp/healthbench" -ctl "$ctl" -n "$N" -warmup "$WARMUP" -window "$WINDOW" "$@" | tee -a "$tmp/out"
	stop_backend
}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), $(go version | cut -d' ' -f3)"
echo
profile() {
	if [[ -n ${PROFILE:-} ]]; then
		mkdir -p "$PROFILE"
		echo "-cpuprofile=$PROFILE/$1.pprof"
	fi
}
measure -keepalive=false $(profile new-connection)
measure -keepalive=true $(profile keep-alive)
if [[ $PEER == 1 ]]; then
	if command -v haproxy >/dev/null; then
		measure -peer haproxy
	else
		echo "== peer: haproxy is not installed (apt-get install -y haproxy); skipped =="
	fi
fi
# per_probe prints the "CPU per probe/check" figures of the runs, in µs.
per_probe() { awk '/^  CPU per (probe|check)/ { print $4 }' "$tmp/out"; }
mapfile -t cost < <(per_probe)
if [[ ${#cost[@]} == 3 ]]; then
	echo "== ratio to the peer (CPU per probe; haproxy checks with a new connection each time) =="
	awk -v a="${cost[0]}" -v b="${cost[1]}" -v h="${cost[2]}" 'BEGIN {
		printf "switchboard, new connection per probe / haproxy: %.2f (%s µs / %s µs)\n", a / h, a, h
		printf "switchboard, keep-alive / haproxy (new connections): %.2f (%s µs / %s µs; haproxy has no keep-alive checks)\n", b / h, b, h
	}'
	echo
fi
echo "run.sh took ${SECONDS}s"
if [[ -n ${PROFILE:-} ]]; then
	echo "profiles: go tool pprof -top -cum $PROFILE/new-connection.pprof (and keep-alive.pprof)"
fi
