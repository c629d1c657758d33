#!/usr/bin/env bash
# Compares switchboard's L7 proxy (internal/httpproxy) with HAProxy, nginx
# and Caddy (when installed) in one run: one listener, round robin over
# three local nginx targets, wrk at CONNS connections (HTTP/1.1 keep-alive)
# and h2load (h2c, prior knowledge). Each proxy is pinned to PROXY_CPU with
# one thread/worker (switchboard and Caddy get GOMAXPROCS=1 from the
# pinning); wrk, h2load and the targets run on CLIENT_CPU. All proxies run
# at once and ROUNDS rounds of DURATION-second wrk windows interleave them,
# so that other load on the machine hits them alike; figures are medians.
# Reports requests/s and p99 latency (wrk), requests per server CPU-second
# (utime+stime from /proc/<pid>/stat), h2c requests/s (h2load), resident
# memory per idle client connection (IDLE connections held by
# bench/l7/idleconns), and a failover run per proxy: wrk for FAIL_DURATION
# s, one of the three targets killed (SIGKILL) after 3 s, client-visible
# errors counted. About 4 minutes with the defaults.
#
#   bash bench/l7/run.sh                      # defaults
#   DURATION=20 ROUNDS=5 CONNS=64 bash bench/l7/run.sh
#   KEEP=1 bash bench/l7/run.sh               # keep the work directory
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
IDLE=${IDLE:-2000}
FAIL_DURATION=${FAIL_DURATION:-10}
BASE=${BASE:-18100}
PROXY_CPU=${PROXY_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
T1=$((BASE + 1)) T2=$((BASE + 2)) T3=$((BASE + 3))
P_SB=$((BASE + 10)) P_HA=$((BASE + 11)) P_NG=$((BASE + 12)) P_NG2=$((BASE + 22)) P_CA=$((BASE + 13))
ADMIN=$((BASE + 30)) PPROF=$((BASE + 31))

for tool in wrk h2load haproxy nginx taskset ss go; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench/l7: $tool is missing; apt-get install -y wrk nghttp2-client haproxy nginx-light util-linux iproute2" >&2
		exit 1
	fi
done
HAVE_CADDY=0
command -v caddy >/dev/null && HAVE_CADDY=1
for port in $T1 $T2 $T3 $P_SB $P_HA $P_NG $P_NG2 $P_CA $ADMIN; do
	if ss -Hltn "sport = :$port" | grep -q .; then
		echo "bench/l7: TCP port $port is taken; set BASE" >&2
		exit 1
	fi
done

tmp=$(mktemp -d /tmp/bench-l7.XXXXXX)
declare -A target_pid pid port h2port
cleanup() {
	stop_all
	for i in 1 2 3; do
		[[ -n ${target_pid[$i]:-} ]] && kill "${target_pid[$i]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/switchboard" ./cmd/switchboard
go build -o "$tmp/idleconns" ./bench/l7/idleconns
CLK=$(getconf CLK_TCK)

wait_port() {
	for _ in $(seq 200); do
		if ss -Hltn "sport = :$1" | grep -q .; then return 0; fi
		sleep 0.05
	done
	echo "bench/l7: nothing listens on port $1" >&2
	return 1
}

# Targets: three nginx instances (one worker each) with a 21-byte answer.
start_target() {
	local i=$1 port=$2 d="$tmp/target$1"
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $d;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "hello from target $i\n"; }
    }
}
EOF
	taskset -c "$CLIENT_CPU" nginx -c "$d/nginx.conf" -g 'daemon off;' &
	target_pid[$i]=$!
	wait_port "$port"
}
kill_target() {
	# SIGKILL the master, then its workers (killed first, a worker would be
	# respawned): connections are reset, like a crash.
	local workers
	workers=$(pgrep -P "${target_pid[$1]}" || true)
	kill -KILL "${target_pid[$1]}" 2>/dev/null || true
	[[ -n $workers ]] && kill -KILL $workers 2>/dev/null || true
	wait "${target_pid[$1]}" 2>/dev/null || true
	target_pid[$1]=
	# The worker may outlive its master by a moment; wait for the port.
	for _ in $(seq 100); do
		ss -Hltn "sport = :$((BASE + $1))" | grep -q . || break
		sleep 0.05
	done
}
for i in 1 2 3; do start_target $i $((BASE + i)); done

# Proxy configurations, equivalent: round robin, keep-alive to targets,
# X-Forwarded-For, active health checks every 2 s.
cat >"$tmp/switchboard.yaml" <<EOF
server:
  admin: { listen: 127.0.0.1:$ADMIN }
zones: [{ name: a }]
target_groups:
  - name: web
    protocol: http
    port: 80
    health_check: { path: /, interval: 2s, timeout: 1s }
    targets:
      - { address: 127.0.0.1, port: $T1, zone: a }
      - { address: 127.0.0.1, port: $T2, zone: a }
      - { address: 127.0.0.1, port: $T3, zone: a }
load_balancers:
  - name: bench
    nodes: [{ zone: a, addresses: [127.0.0.1] }]
    listeners:
      - protocol: http
        address: 127.0.0.1
        port: $P_SB
        default_action: { forward: { target_groups: [{ name: web }] } }
EOF
cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option forwardfor
    http-reuse always
    retries 1
    option redispatch 1
frontend fe
    bind 127.0.0.1:$P_HA
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /
    server t1 127.0.0.1:$T1 check inter 2s
    server t2 127.0.0.1:$T2 check inter 2s
    server t3 127.0.0.1:$T3 check inter 2s
EOF
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
worker_rlimit_nofile 18000;
events { worker_connections 8000; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $tmp/nginx;
    proxy_temp_path $tmp/nginx;
    upstream be {
        server 127.0.0.1:$T1 max_fails=1;
        server 127.0.0.1:$T2 max_fails=1;
        server 127.0.0.1:$T3 max_fails=1;
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$P_NG;
        listen 127.0.0.1:$P_NG2 http2;
        location / {
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
cat >"$tmp/Caddyfile" <<EOF
{
    admin off
    auto_https off
    servers {
        protocols h1 h2c
    }
}
http://127.0.0.1:$P_CA {
    reverse_proxy 127.0.0.1:$T1 127.0.0.1:$T2 127.0.0.1:$T3 {
        lb_policy round_robin
    }
}
EOF

# Every proxy runs for the whole benchmark (an idle one costs nothing), so
# that rounds can interleave them: the machine's other load then hits all
# of them alike, and each figure is the median of ROUNDS windows.
start_proxy() {
	case $1 in
	switchboard)
		taskset -c "$PROXY_CPU" "$tmp/switchboard" serve --config "$tmp/switchboard.yaml" --data-dir "$tmp/sbdata" --log-level warn 2>"$tmp/switchboard.log" &
		pid[$1]=$! port[$1]=$P_SB h2port[$1]=$P_SB ;;
	haproxy)
		taskset -c "$PROXY_CPU" haproxy -f "$tmp/haproxy.cfg" -db 2>"$tmp/haproxy.log" &
		pid[$1]=$! port[$1]=$P_HA h2port[$1]=$P_HA ;;
	nginx)
		taskset -c "$PROXY_CPU" nginx -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
		pid[$1]=$! port[$1]=$P_NG h2port[$1]=$P_NG2 ;;
	caddy)
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" caddy run --config "$tmp/Caddyfile" --adapter caddyfile 2>"$tmp/caddy.log" &
		pid[$1]=$! port[$1]=$P_CA h2port[$1]=$P_CA ;;
	esac
	wait_port "${port[$1]}"
	# Until every target answers through it (health checks passed).
	for _ in $(seq 100); do
		ok=0
		for _ in 1 2 3 4 5 6; do
			curl -fsS "http://127.0.0.1:${port[$1]}/" >/dev/null 2>&1 && ok=$((ok + 1))
		done
		[[ $ok == 6 ]] && break
		sleep 0.1
	done
}
stop_proxy() {
	[[ -n ${pid[$1]:-} ]] || return 0
	pkill -TERM -P "${pid[$1]}" 2>/dev/null || true
	kill -TERM "${pid[$1]}" 2>/dev/null || true
	wait "${pid[$1]}" 2>/dev/null || true
	pid[$1]=
}
stop_all() {
	for p in "${!pid[@]}"; do stop_proxy "$p"; done
}

# cpu_ticks sums user+system ticks of a proxy and its children (nginx workers).
cpu_ticks() {
	local total=0 p
	for p in "${pid[$1]}" $(pgrep -P "${pid[$1]}" || true); do
		[[ -r /proc/$p/stat ]] || continue
		total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
	done
	echo "$total"
}
rss_kb() {
	local total=0 p
	for p in "${pid[$1]}" $(pgrep -P "${pid[$1]}" || true); do
		[[ -r /proc/$p/status ]] || continue
		total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
	done
	echo "$total"
}
# to_ms converts wrk's "1.23ms"/"456.00us"/"1.02s" to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rounds="$tmp/rounds"
: >"$rounds"
# wrk_window runs one wrk window against a proxy and appends
# "name rps p99_ms errors cpu_s requests" to $rounds.
wrk_window() {
	local name=$1 c0 c1 out
	c0=$(cpu_ticks "$name")
	out=$(taskset -c "$CLIENT_CPU" wrk -t2 -c "$CONNS" -d "${DURATION}s" --latency "http://127.0.0.1:${port[$name]}/")
	c1=$(cpu_ticks "$name")
	echo "== $name, round $2: wrk -t2 -c $CONNS -d ${DURATION}s --latency http://127.0.0.1:${port[$name]}/"
	grep -E "Latency  |requests in|Requests/sec|Non-2xx|Socket errors|^ +99%" <<<"$out"
	awk -v a="$c0" -v b="$c1" -v k="$CLK" '/requests in/ { t = $1 } END { c = (b - a) / k; printf "server CPU %.2f s, %.0f requests per CPU-second\n", c, (c > 0 ? t / c : 0) }' <<<"$out"
	awk -v name="$name" -v a="$c0" -v b="$c1" -v k="$CLK" '
		/^Requests\/sec:/ { rps = $2 }
		$1 == "99%" { v = $2; n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; p99 = n }
		/requests in/ { total = $1 }
		/Non-2xx/ { errs += $NF }
		/Socket errors/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
		END { printf "%s %s %.3f %d %.2f %d\n", name, rps, p99, errs, (b - a) / k, total }' <<<"$out" >>"$rounds"
}

h2_window() {
	local name=$1 out
	out=$(taskset -c "$CLIENT_CPU" h2load -c "$CONNS" -m 4 -t 1 -D "$DURATION" "http://127.0.0.1:${h2port[$name]}/" 2>&1 || true)
	echo "== $name: h2load -c $CONNS -m 4 -t 1 -D $DURATION http://127.0.0.1:${h2port[$name]}/ (h2c)"
	grep -E "finished in|requests:|time for request" <<<"$out" || tail -5 <<<"$out"
	awk -v name="$name" '/finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { gsub(/,/, "", $(i-1)); r = $(i-1) } }
		/time for request:/ { m = $6 } END { printf "%s %s %s\n", name, r == "" ? "n/a" : r, m == "" ? "n/a" : m }' <<<"$out" >>"$tmp/h2"
}

idle_memory() {
	local name=$1 r0 r1 ipid
	r0=$(rss_kb "$name")
	rm -f "$tmp/idle.ready"
	taskset -c "$CLIENT_CPU" "$tmp/idleconns" -addr "127.0.0.1:${port[$name]}" -n "$IDLE" -ready "$tmp/idle.ready" &
	ipid=$!
	for _ in $(seq 600); do [[ -s $tmp/idle.ready ]] && break; sleep 0.05; done
	sleep 0.5
	r1=$(rss_kb "$name")
	kill "$ipid" 2>/dev/null || true
	wait "$ipid" 2>/dev/null || true
	echo "== $name: RSS $r0 kB before, $r1 kB with $IDLE idle client connections"
	awk -v name="$name" -v a="$r0" -v b="$r1" -v n="$IDLE" 'BEGIN { printf "%s %.1f\n", name, (b - a) / n }' >>"$tmp/idle"
}

failover() {
	local name=$1
	taskset -c "$CLIENT_CPU" wrk -t2 -c "$CONNS" -d "${FAIL_DURATION}s" "http://127.0.0.1:${port[$name]}/" >"$tmp/fail.out" &
	local wpid=$!
	sleep 3
	kill_target 2
	wait "$wpid" || true
	echo "== failover $name: wrk -t2 -c $CONNS -d ${FAIL_DURATION}s; target 2 killed (SIGKILL) at 3 s"
	grep -E "requests in|Requests/sec|Non-2xx|Socket errors" "$tmp/fail.out"
	awk -v name="$name" '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } /requests in/ { t = $1 }
		END { printf "failover %-12s %d errors of %d requests\n", name, n, t }' "$tmp/fail.out" >>"$tmp/failover"
	start_target 2 "$T2"
	# Let active checks see it again before the next proxy's run.
	sleep 5
	echo
}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "haproxy $(haproxy -v | head -1 | awk '{print $3}'), $(nginx -v 2>&1 | cut -d' ' -f3)$([[ $HAVE_CADDY == 1 ]] && echo ", caddy $(caddy version | awk '{print $1}')")"
echo
proxies=(haproxy switchboard nginx)
[[ $HAVE_CADDY == 1 ]] && proxies+=(caddy)
for p in "${proxies[@]}"; do start_proxy "$p"; done
for p in "${proxies[@]}"; do
	taskset -c "$CLIENT_CPU" wrk -t1 -c "$CONNS" -d "${WARMUP}s" "http://127.0.0.1:${port[$p]}/" >/dev/null
done
for r in $(seq "$ROUNDS"); do
	for p in "${proxies[@]}"; do wrk_window "$p" "$r"; done
done
: >"$tmp/h2"
: >"$tmp/idle"
for p in "${proxies[@]}"; do h2_window "$p"; done
for p in "${proxies[@]}"; do idle_memory "$p"; done
: >"$tmp/failover"
for p in switchboard haproxy; do failover "$p"; done
stop_all

echo
echo "== summary: median of $ROUNDS rounds; ratios against haproxy (p99 from wrk; h2 from one h2load run)"
for p in "${proxies[@]}"; do
	rps=$(awk -v p="$p" '$1 == p {print $2}' "$rounds" | median)
	p99=$(awk -v p="$p" '$1 == p {print $3}' "$rounds" | median)
	errs=$(awk -v p="$p" '$1 == p {n += $4} END {print n + 0}' "$rounds")
	per=$(awk -v p="$p" '$1 == p && $5 > 0 {print $6 / $5}' "$rounds" | median)
	echo "$p $rps $p99 $errs $per $(awk -v p="$p" '$1 == p {print $2, $3}' "$tmp/h2") $(awk -v p="$p" '$1 == p {print $2}' "$tmp/idle")"
done >"$tmp/summary"
awk '
	NR == FNR { if ($1 == "haproxy") { hr = $2; hp = $3; hc = $5; hh = $6 }; next }
	FNR == 1 { printf "%-12s %9s %6s %9s %6s %7s %10s %6s %9s %6s %11s %9s\n", "proxy", "req/s", "ratio", "p99 ms", "ratio", "errors", "req/cpu-s", "ratio", "h2 req/s", "ratio", "h2 mean", "KiB/idle" }
	{ printf "%-12s %9.0f %6.2f %9.2f %6.2f %7d %10.0f %6.2f %9s %6s %11s %9s\n", $1, $2, $2 / hr, $3, $3 / hp, $4, $5, $5 / hc, $6,
		($6 == "n/a" || hh == "n/a") ? "n/a" : sprintf("%.2f", $6 / hh), $7, $8 }
' "$tmp/summary" "$tmp/summary"
cat "$tmp/failover"
