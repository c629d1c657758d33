#!/usr/bin/env bash
# Compares switchboard's authoritative DNS (internal/dnsserver, served by
# bench/dns/sbdns) with Knot DNS and NSD using dnsperf: the same static zone
# on all three, and a zone of weighted and failover records with health
# checks on switchboard. Each server runs pinned to CPU 1, dnsperf to CPU 0.
# Per server: DURATION seconds at the highest rate dnsperf reaches, then
# DURATION seconds at half that rate for latency. About 2 min 20 s with the
# defaults (8 runs of 15 s); only 127.0.0.1 is used. bench/dns/README.md
# explains the table.
#
#   bash bench/dns/run.sh                       # defaults
#   DURATION=10 bash bench/dns/run.sh           # seconds per dnsperf run
#   PROFILE=/tmp/prof bash bench/dns/run.sh     # CPU profiles of switchboard
#   EDNS=1 bash bench/dns/run.sh                # queries with an EDNS0 OPT record
#   KEEP=1 bash bench/dns/run.sh                # keep the work directory
#   FLOOR=1 DURATION=10 bash bench/dns/run.sh   # also bench/dns/udpfloor's Go UDP loops
#   ROUNDS=3 DURATION=10 bash bench/dns/run.sh  # every server 3 times, interleaved; ratios are medians
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-4}           # dnsperf -c: client sockets
OUTSTANDING=${OUTSTANDING:-200} # dnsperf -q: queries in flight at most
EDNS=${EDNS:-0}
PORT_SB=${PORT_SB:-5301}
PORT_KNOT=${PORT_KNOT:-5302}
PORT_NSD=${PORT_NSD:-5303}
PORT_FLOOR=${PORT_FLOOR:-5304}
FLOOR=${FLOOR:-0}
ROUNDS=${ROUNDS:-1} # times every server is measured, in turn; the ratios are the medians
SERVER_CPU=1
CLIENT_CPU=0

for tool in knotd nsd dnsperf dig taskset ss /usr/bin/time go; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench/dns: $tool is missing; apt-get install -y knot nsd dnsperf dnsutils util-linux iproute2 time" >&2
		exit 1
	fi
done
for port in "$PORT_SB" "$PORT_KNOT" "$PORT_NSD" "$PORT_FLOOR"; do
	if ss -Hlun "sport = :$port" | grep -q .; then
		echo "bench/dns: UDP port $port on this machine is taken; set PORT_SB, PORT_KNOT, PORT_NSD or PORT_FLOOR" >&2
		exit 1
	fi
done

# Debian's knot and nsd packages start a daemon on port 53 where systemd
# runs; it doesn't disturb the benchmark's ports, but say so.
if ss -Hlunp "sport = :53" | grep -qE 'knotd|nsd'; then
	echo "note: a knotd or nsd from the Debian package is listening on port 53 (not stopped by this script):"
	ss -Hlunp "sport = :53" | grep -E 'knotd|nsd'
fi

tmp=$(mktemp -d /tmp/bench-dns.XXXXXX)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		stop_server
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "work directory kept: $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/sbdns" ./bench/dns/sbdns
go build -o "$tmp/zonegen" ./bench/dns/zonegen
go build -o "$tmp/udpfloor" ./bench/dns/udpfloor
"$tmp/zonegen" -dir "$tmp/zones"

mkdir -p "$tmp/knot" "$tmp/nsd"
# Knot: one UDP and one TCP worker, so the one core it may use is not shared
# between worker threads (the default is a worker per CPU of the machine).
cat >"$tmp/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$PORT_KNOT
    rundir: $tmp/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: $tmp/knot
template:
  - id: default
    storage: $tmp/zones
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: static.test
    file: static.test.zone
EOF
# NSD: one server process (server-count), minimal responses as knot and
# switchboard give, no chroot, no privilege drop, nothing outside $tmp.
cat >"$tmp/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $PORT_NSD
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$tmp/zones"
    pidfile: "$tmp/nsd/nsd.pid"
    database: ""
    xfrdfile: "$tmp/nsd/xfrd.state"
    xfrdir: "$tmp/nsd"
    zonelistfile: "$tmp/nsd/zone.list"
    logfile: "$tmp/nsd/nsd.log"
    verbosity: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: static.test
    zonefile: static.test.zone
EOF

# descendants prints pid and the pids of all its descendants (nsd forks).
descendants() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1" || true); do
		descendants "$p"
	done
}

# cpu_ticks prints the user+system clock ticks of pid and its descendants.
cpu_ticks() {
	local total=0 p stat
	for p in $(descendants "$1"); do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		# Fields after "pid (comm) ": state is $1, so utime (14) is ${12}, stime (15) ${13}.
		set -- ${stat##*') '}
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# cpu_busy prints "busy total" ticks of one CPU from /proc/stat.
cpu_busy() {
	awk -v cpu="cpu$1" '$1 == cpu { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat
}

# pin binds every thread of the server and its children to CPU 1 again, and
# checks that they are. knotd pins its UDP worker to a CPU of its own choice
# (CPU 0 here, dnsperf's) whatever taskset said, so the initial taskset alone
# is not enough.
pin() {
	local p t
	for p in $(descendants "$server_pid"); do
		taskset -a -p -c "$SERVER_CPU" "$p" >/dev/null
		for t in /proc/"$p"/task/*; do
			if [[ $(awk '/^Cpus_allowed_list:/ { print $2 }' "$t/status" 2>/dev/null) != "$SERVER_CPU" ]]; then
				echo "bench/dns: thread ${t##*/} of server $server_pid is not pinned to CPU $SERVER_CPU" >&2
				exit 1
			fi
		done
	done
}

# start_server starts a server on CPU 1 and waits until it answers.
start_server() {
	local port=$1
	shift
	taskset -c "$SERVER_CPU" "$@" >"$tmp/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		if dig +norec +time=1 +tries=1 -p "$port" @127.0.0.1 ns1.static.test A 2>/dev/null | grep -q 'status: NOERROR'; then
			pin
			return
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "bench/dns: $* did not start answering on port $port:" >&2
	cat "$tmp/server.log" >&2
	exit 1
}

# started prints pid's start time (field 22 of /proc/PID/stat), or nothing
# once it has exited; with the pid it names one process, whatever reuses it.
started() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	set -- ${stat##*') '}
	echo "${20}"
}

# stop_server stops the server and any process it forked (nsd does): TERM to
# the server, then KILL to whichever of them is still the same process after
# 5 s.
stop_server() {
	local procs=() p
	for p in $(descendants "$server_pid"); do
		procs+=("$p:$(started "$p")")
	done
	kill "$server_pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in "${procs[@]}"; do
		if [[ -n ${p#*:} && $(started "${p%%:*}") == "${p#*:}" ]]; then
			kill -KILL "${p%%:*}" 2>/dev/null || true
		fi
	done
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# field prints a figure from a dnsperf report: field FILE 'Queries per second:' FIELD.
field() {
	awk -v key="$2" -v f="$3" 'index($0, key) == 3 { gsub(/[(),]/, ""); print $f; exit }' "$1"
}

# perf runs dnsperf on CPU 0 against port for DURATION seconds, writing its
# report to out and its CPU and wall seconds ("user system elapsed") to
# out.cpu. A query unanswered after a second counts as lost (-t 1): dnsperf
# spins on CPU 0 until then after its time is up, and loopback answers come
# within milliseconds.
perf() {
	local port=$1 out=$2
	shift 2
	local edns=()
	if [[ $EDNS == 1 ]]; then
		edns=(-e)
	fi
	/usr/bin/time -f '%U %S %e' -o "$out.cpu" \
		timeout $((DURATION + 20)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -l "$DURATION" -t 1 \
		-c "$CLIENTS" -q "$OUTSTANDING" "${edns[@]}" "$@" >"$out"
}

# measure runs dnsperf at full rate, then (unless the fifth argument is
# max-only) at half that rate, against the running server, and appends a row
# to $tmp/rows.
measure() {
	local name=$1 zone=$2 port=$3 queries=$4 only=${5:-}
	local out=$tmp/$name-$zone t0 t1 c0 c1 b0 b1 qps
	t0=$(cpu_ticks "$server_pid")
	c0=$(cpu_busy "$CLIENT_CPU")
	b0=$(cpu_busy "$SERVER_CPU")
	perf "$port" "$out.max" -d "$queries"
	t1=$(cpu_ticks "$server_pid")
	c1=$(cpu_busy "$CLIENT_CPU")
	b1=$(cpu_busy "$SERVER_CPU")
	qps=$(field "$out.max" 'Queries per second:' 4)
	# -v prints each answer's latency, for the p99.
	if [[ $only == max-only ]]; then
		: >"$out.half"
	else
		perf "$port" "$out.half" -d "$queries" -v -Q "$(awk -v q="$qps" 'BEGIN { printf "%d", q / 2 }')"
	fi
	awk -v name="$name" -v zone="$zone" -v hz="$(getconf CLK_TCK)" \
		-v run="$(field "$out.max" 'Run time (s):' 4)" \
		-v done="$(field "$out.max" 'Queries completed:' 3)" \
		-v qps="$qps" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" \
		-v lost="$(field "$out.max" 'Queries lost:' 3)" \
		-v resp="$(field "$out.max" 'Average packet size:' 7)" \
		-v client="$(cat "$out.max.cpu")" \
		-v hqps="$(field "$out.half" 'Queries per second:' 4)" \
		-v havg="$(field "$out.half" 'Average Latency (s):' 4)" \
		-v hlost="$(field "$out.half" 'Queries lost:' 3)" \
		-v p99="$(p99 "$out.half")" '
	function busy(a, b) { split(a, x, " "); split(b, y, " "); return 100 * (y[1] - x[1]) / (y[2] - x[2]) }
	function f(format, v) { return v == "" ? "-" : sprintf(format, v) }
	BEGIN {
		cpu = (t1 - t0) / hz
		split(client, cl, " ")
		printf "%s %s %.0f %d %.2f %.0f %.0f %.0f %.0f %.0f %s %s %s %s %s\n",
			name, zone, qps, lost, cpu, 100 * cpu / run, (cpu > 0 ? done / cpu : 0),
			100 * (cl[1] + cl[2]) / cl[3], busy(c0, c1), busy(b0, b1), resp,
			f("%.0f", hqps), f("%.3f", havg == "" ? "" : havg * 1000), p99, f("%d", hlost)
	}' >>"$tmp/rows"
}

# p99 prints the 99th percentile latency in ms of a verbose dnsperf run,
# counting lost queries as slower than any answer ("lost" if they reach it).
p99() {
	local lost
	lost=$(field "$1" 'Queries lost:' 3)
	awk '/^> / { print $NF }' "$1" | sort -g | awk -v lost="$lost" '
		{ l[NR] = $1 }
		END {
			n = NR + lost
			i = int(n * 0.99 + 0.999999)
			if (n == 0) print "-"; else if (i > NR) print "lost"; else printf "%.3f\n", l[i] * 1000
		}'
}

profile() {
	if [[ -n ${PROFILE:-} ]]; then
		mkdir -p "$PROFILE"
		echo "-cpuprofile=$PROFILE/$1.pprof"
	fi
}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "peers: $(knotd -V | head -1), $(nsd -v 2>&1 | head -1), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
echo "dnsperf: -c $CLIENTS -q $OUTSTANDING, ${DURATION}s per run, EDNS=$EDNS; servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
echo

# With ROUNDS > 1 the four measurements are repeated in turn, so that a
# busy spell on the machine falls on every server alike; profiles are of
# the last round.
sb=("$tmp/sbdns" -config "$tmp/zones/switchboard.yaml" -down "$tmp/zones/down.txt" -listen "127.0.0.1:$PORT_SB")
for round in $(seq "$ROUNDS"); do
	if [[ $ROUNDS -gt 1 ]]; then
		echo "round $round of $ROUNDS, load $(cut -d' ' -f1-3 /proc/loadavg)"
	fi
	start_server "$PORT_KNOT" knotd -c "$tmp/knot/knot.conf"
	measure knot static "$PORT_KNOT" "$tmp/zones/static.queries"
	stop_server

	start_server "$PORT_NSD" nsd -d -c "$tmp/nsd/nsd.conf"
	measure nsd static "$PORT_NSD" "$tmp/zones/static.queries"
	stop_server

	start_server "$PORT_SB" "${sb[@]}" $(profile static)
	measure switchboard static "$PORT_SB" "$tmp/zones/static.queries"
	stop_server
	grep -h '^sbdns:' "$tmp/server.log" || true

	start_server "$PORT_SB" "${sb[@]}" $(profile policy)
	measure switchboard policy "$PORT_SB" "$tmp/zones/policy.queries"
	stop_server
	grep -h '^sbdns:' "$tmp/server.log" || true
done

# The Go UDP loops alone, answering without DNS work: the ceiling of each
# loop (max rate only).
if [[ $FLOOR == 1 ]]; then
	for mode in netpoll mmsg mmsg-raw; do
		start_server "$PORT_FLOOR" "$tmp/udpfloor" -mode "$mode" -listen "127.0.0.1:$PORT_FLOOR"
		measure "udpfloor-$mode" static "$PORT_FLOOR" "$tmp/zones/static.queries" max-only
		stop_server
	done
fi
echo

{
	echo "server zone qps lost srv-CPU-s srv-CPU% q/CPU-s dnsperf-CPU% CPU0% CPU1% resp-B half-qps avg@half-ms p99@half-ms half-lost"
	cat "$tmp/rows"
} | column -t -R 3,4,5,6,7,8,9,10,11,12,13,14,15
echo

# ratios: qps and queries per CPU-second against knot and nsd (static), and
# switchboard policy against switchboard static. The goals are judged on
# queries per server CPU-second, the capacity of the one core a server has:
# dnsperf's core saturates first here, so qps says who was client-bound.
# With ROUNDS > 1, each ratio is taken per round (the n-th measurement of
# one server against the n-th of the other) and the median is shown with
# the range; goals are judged on the medians.
awk -v rounds="$ROUNDS" '
	{
		k = $1 "/" $2
		i = ++n[k]
		qps[k, i] = $3; eff[k, i] = $7; p99[k, i] = $14
		if ($9 >= 95 && $6 < 95 && !(k in isbound)) { isbound[k] = 1; bound = bound " " k }
	}
	# median sorts x[1..c] and returns its median.
	function median(x, c,   i, j, t) {
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
		return c % 2 ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2
	}
	# ratio returns the median over rounds of a / b in m, or "" without
	# data; it sets lo and hi to the range.
	function ratio(a, b, m,   i, c, x) {
		c = 0
		for (i = 1; i <= n[a] && i <= n[b]; i++)
			if (m[b, i] > 0 && m[a, i] != "") x[++c] = m[a, i] / m[b, i]
		if (c == 0) { lo = hi = ""; return "" }
		v = median(x, c); lo = x[1]; hi = x[c]
		return v
	}
	function show(a, b, m,   v) {
		v = ratio(a, b, m)
		if (v == "") return "-"
		return rounds > 1 ? sprintf("%.2f (%.2f-%.2f)", v, lo, hi) : sprintf("%.2f", v)
	}
	# p99ms returns the median p99 of k in ms, or "" (lost answers count
	# as slower than any).
	function p99ms(k,   i, c, x) {
		c = 0
		for (i = 1; i <= n[k]; i++) x[++c] = p99[k, i] ~ /^[0-9.]+$/ ? p99[k, i] : 1e9
		return c ? median(x, c) : ""
	}
	function ms(v) { return v == "" ? "-" : v >= 1e9 ? "lost" : sprintf("%.3f ms", v) }
	function goal(ok) { return ok ? "met" : "NOT met" }
	function line(label, a, b) { printf "%-52s %20s %20s\n", label, show(a, b, qps), show(a, b, eff) }
	END {
		printf "%-52s %20s %20s\n", "ratio" (rounds > 1 ? " (median of " rounds " rounds, range)" : ""), "qps", "q/CPU-s"
		line("switchboard / knot, static", "switchboard/static", "knot/static")
		line("switchboard / nsd, static", "switchboard/static", "nsd/static")
		line("switchboard weighted+failover / switchboard static", "switchboard/policy", "switchboard/static")
		line("switchboard weighted+failover / knot static", "switchboard/policy", "knot/static")
		split("netpoll mmsg mmsg-raw", modes, " ")
		for (i = 1; i <= 3; i++) {
			k = "udpfloor-" modes[i] "/static"
			if (n[k] > 0) line("udpfloor " modes[i] " (no DNS work) / knot, static", k, "knot/static")
		}
		print ""
		if (bound != "") printf "client-bound (dnsperf core >= 95%% busy, server < 95%%):%s; their qps is dnsperf'"'"'s limit, not the server'"'"'s\n", bound
		se = ratio("switchboard/static", "knot/static", eff); sq = ratio("switchboard/static", "knot/static", qps)
		printf "goal: static, switchboard >= knot, per server CPU-second: %s (%s); by qps: %s (%s)\n",
			goal(se != "" && se >= 1), show("switchboard/static", "knot/static", eff),
			goal(sq != "" && sq >= 1), show("switchboard/static", "knot/static", qps)
		pe = ratio("switchboard/policy", "knot/static", eff); pq = ratio("switchboard/policy", "knot/static", qps)
		printf "goal: policy >= 90%% of knot static, per server CPU-second: %s (%s); by qps: %s (%s)\n",
			goal(pe != "" && pe >= 0.9), show("switchboard/policy", "knot/static", eff),
			goal(pq != "" && pq >= 0.9), show("switchboard/policy", "knot/static", qps)
		ps = p99ms("switchboard/static"); pp = p99ms("switchboard/policy")
		printf "goal: p99 < 1 ms at half rate%s: static %s (%s), policy %s (%s)\n", (rounds > 1 ? " (median)" : ""),
			goal(ps != "" && ps < 1), ms(ps), goal(pp != "" && pp < 1), ms(pp)
	}' "$tmp/rows"
echo
echo "run.sh took ${SECONDS}s; load at the end $(cut -d" " -f1-3 /proc/loadavg)"
if [[ -n ${PROFILE:-} ]]; then
	echo "profiles: go tool pprof -top $PROFILE/static.pprof (and policy.pprof)"
fi
