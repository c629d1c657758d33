#!/usr/bin/env bash
# Compares switchboard's L7 proxy (internal/httpproxy) with HAProxy, nginx
# and Caddy (when installed) in one run: one listener, round robin over
# three local nginx targets, wrk at CONNS connections (HTTP/1.1 keep-alive)
# and h2load (h2c, prior knowledge). Each proxy runs alone, pinned to
# PROXY_CPU with one thread/worker (switchboard and Caddy get GOMAXPROCS=1
# from the pinning); wrk, h2load and the targets run on CLIENT_CPU.
# Reports requests/s, p99 latency (wrk), server CPU-seconds from
# /proc/<pid>/stat and requests per CPU-second, resident memory per idle
# client connection (IDLE connections held by bench/l7/idleconns), and a
# failover run: wrk for FAIL_DURATION s, one of the three targets killed
# (SIGKILL) after 3 s, client-visible errors counted. About 3 minutes.
#
#   bash bench/l7/run.sh                      # defaults
#   DURATION=20 CONNS=64 bash bench/l7/run.sh
#   PROFILE=/tmp/l7.pprof bash bench/l7/run.sh   # CPU profile of switchboard's wrk run
#   KEEP=1 bash bench/l7/run.sh               # keep the work directory
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
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
declare -A target_pid
proxy_pid=
cleanup() {
	[[ -n $proxy_pid ]] && stop_proxy
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

start_proxy() {
	case $1 in
	switchboard)
		taskset -c "$PROXY_CPU" "$tmp/switchboard" serve --config "$tmp/switchboard.yaml" --data-dir "$tmp/sbdata" --log-level warn 2>"$tmp/switchboard.log" &
		proxy_pid=$! port=$P_SB h2port=$P_SB ;;
	haproxy)
		taskset -c "$PROXY_CPU" haproxy -f "$tmp/haproxy.cfg" -db 2>"$tmp/haproxy.log" &
		proxy_pid=$! port=$P_HA h2port=$P_HA ;;
	nginx)
		taskset -c "$PROXY_CPU" nginx -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
		proxy_pid=$! port=$P_NG h2port=$P_NG2 ;;
	caddy)
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" caddy run --config "$tmp/Caddyfile" --adapter caddyfile 2>"$tmp/caddy.log" &
		proxy_pid=$! port=$P_CA h2port=$P_CA ;;
	esac
	wait_port "$port"
	# Until every target answers through it (health checks passed).
	for _ in $(seq 100); do
		ok=0
		for _ in 1 2 3 4 5 6; do
			curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && ok=$((ok + 1))
		done
		[[ $ok == 6 ]] && break
		sleep 0.1
	done
}
stop_proxy() {
	pkill -TERM -P "$proxy_pid" 2>/dev/null || true
	kill -TERM "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
	proxy_pid=
}

# cpu_ticks sums user+system ticks of the proxy and its children (nginx workers).
cpu_ticks() {
	local total=0 p
	for p in "$proxy_pid" $(pgrep -P "$proxy_pid" || true); do
		[[ -r /proc/$p/stat ]] || continue
		total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
	done
	echo "$total"
}
rss_kb() {
	local total=0 p
	for p in "$proxy_pid" $(pgrep -P "$proxy_pid" || true); do
		[[ -r /proc/$p/status ]] || continue
		total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
	done
	echo "$total"
}
# to_ms converts wrk's "1.23ms"/"456.00us"/"1.02s" to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

results="$tmp/results"
: >"$results"
measure() {
	local name=$1
	start_proxy "$name"
	taskset -c "$CLIENT_CPU" wrk -t1 -c "$CONNS" -d "${WARMUP}s" "http://127.0.0.1:$port/" >/dev/null
	if [[ $name == switchboard && -n ${PROFILE:-} ]]; then
		echo "(switchboard CPU profile is not exposed by the binary; use go test -bench -cpuprofile in internal/httpproxy)"
	fi
	local c0 c1 out rps p99 total errs
	c0=$(cpu_ticks)
	out=$(taskset -c "$CLIENT_CPU" wrk -t2 -c "$CONNS" -d "${DURATION}s" --latency "http://127.0.0.1:$port/")
	c1=$(cpu_ticks)
	echo "== $name: wrk -t2 -c $CONNS -d ${DURATION}s --latency http://127.0.0.1:$port/"
	echo "$out"
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	total=$(awk '/requests in/ {print $1}' <<<"$out")
	errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
	local cpus per_cpu
	cpus=$(awk -v a="$c0" -v b="$c1" -v k="$CLK" 'BEGIN { printf "%.2f", (b - a) / k }')
	per_cpu=$(awk -v t="$total" -v c="$cpus" 'BEGIN { if (c > 0) printf "%.0f", t / c; else print "n/a" }')

	local h2out h2rps h2mean
	c0=$(cpu_ticks)
	h2out=$(taskset -c "$CLIENT_CPU" h2load -c "$CONNS" -m 4 -t 1 -D "$DURATION" "http://127.0.0.1:$h2port/" 2>&1 || true)
	echo "== $name: h2load -c $CONNS -m 4 -t 1 -D $DURATION http://127.0.0.1:$h2port/ (h2c)"
	grep -E "finished in|requests:|time for request" <<<"$h2out" || echo "$h2out" | tail -5
	h2rps=$(awk '/finished in/ {for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) {gsub(/,/, "", $(i-1)); print $(i-1)}}' <<<"$h2out")
	h2mean=$(awk '/time for request:/ {print $5}' <<<"$h2out")

	local r0 r1 mem
	r0=$(rss_kb)
	rm -f "$tmp/idle.ready"
	taskset -c "$CLIENT_CPU" "$tmp/idleconns" -addr "127.0.0.1:$port" -n "$IDLE" -ready "$tmp/idle.ready" &
	local ipid=$!
	for _ in $(seq 600); do [[ -s $tmp/idle.ready ]] && break; sleep 0.05; done
	sleep 0.5
	r1=$(rss_kb)
	kill "$ipid" 2>/dev/null || true
	wait "$ipid" 2>/dev/null || true
	mem=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) * 1024 / n / 1024 }')
	echo "== $name: RSS $r0 kB before, $r1 kB with $IDLE idle client connections"
	printf '%s %s %s %s %s %s %s %s %s\n' "$name" "$rps" "$p99" "$errs" "$cpus" "$per_cpu" "${h2rps:-n/a}" "${h2mean:-n/a}" "$mem" >>"$results"
	stop_proxy
	echo
}

failover() {
	local name=$1
	start_proxy "$name"
	taskset -c "$CLIENT_CPU" wrk -t2 -c "$CONNS" -d "${FAIL_DURATION}s" "http://127.0.0.1:$port/" >"$tmp/fail.out" &
	local wpid=$!
	sleep 3
	kill_target 2
	wait "$wpid" || true
	echo "== failover $name: wrk -t2 -c $CONNS -d ${FAIL_DURATION}s; target 2 killed (SIGKILL) at 3 s"
	cat "$tmp/fail.out"
	local errs
	errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$tmp/fail.out")
	echo "failover $name errors=$errs" >>"$tmp/failover"
	stop_proxy
	start_target 2 "$T2"
	echo
}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "haproxy $(haproxy -v | head -1 | awk '{print $3}'), $(nginx -v 2>&1 | cut -d' ' -f3)$([[ $HAVE_CADDY == 1 ]] && echo ", caddy $(caddy version | awk '{print $1}')")"
echo
proxies=(haproxy switchboard nginx)
[[ $HAVE_CADDY == 1 ]] && proxies+=(caddy)
for p in "${proxies[@]}"; do measure "$p"; done
: >"$tmp/failover"
for p in switchboard haproxy; do failover "$p"; done

echo "== summary (ratios against haproxy in this run; p99 from wrk, h2 mean from h2load)"
awk '
	NR == FNR { if ($1 == "haproxy") { hr = $2; hp = $3; hc = $6; hh = $7 } ; next }
	FNR == 1 { printf "%-12s %10s %8s %9s %7s %8s %9s %10s %7s %9s %8s %9s\n", "proxy", "req/s", "ratio", "p99 ms", "ratio", "errors", "cpu s", "req/cpu-s", "ratio", "h2 req/s", "ratio", "KiB/idle" }
	{ printf "%-12s %10.0f %8.2f %9.2f %7.2f %8d %9.2f %10s %7.2f %9s %8s %9s\n", $1, $2, $2 / hr, $3, $3 / hp, $4, $5, $6, ($6 + 0) / hc, $7, ($7 == "n/a" || hh == "n/a") ? "n/a" : sprintf("%.2f", $7 / hh), $9 }
' "$results" "$results"
cat "$tmp/failover"
