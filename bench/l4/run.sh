#!/usr/bin/env bash
# Compares switchboard's userspace L4 proxy (internal/l4proxy, run alone by
# bench/l4/l4tool) with HAProxy (mode tcp) and nginx (stream module), in one
# run, in a private network namespace (its own loopback, port range and
# TIME_WAIT table). Each proxy runs single-threaded pinned to CPU 1
# (GOMAXPROCS=1, nbthread 1, worker_processes 1); clients and backends are
# pinned to CPU 0.
#   1. HTTP through the proxy to an nginx backend with wrk: short-lived
#      connections (Connection: close) and keep-alive; requests/s, latency,
#      proxy CPU-seconds.
#   2. Bulk throughput with iperf3, direct on loopback and through each proxy.
#   3. N concurrent idle proxied connections (sources 127.0.0.2-9, four
#      backend ports): proxy memory (RSS) per connection.
#
#   bash bench/l4/run.sh                    # defaults
#   DURATION=10 IDLE=9000 bash bench/l4/run.sh
#   KEEP=1 bash bench/l4/run.sh             # keep the work directory
#   PARTS=idle bash bench/l4/run.sh         # only some parts: http, bulk, idle
#
# IDLE defaults to the goal, 100000, and is lowered to what the hard limit
# on open files allows one process (each proxied connection takes two
# descriptors in the proxy): about 9,750 where `ulimit -Hn` is 20000. The
# script says so when it lowers it; where the limit allows 200,500 files
# it runs 100000 as is.
set -euo pipefail

cd "$(dirname "$0")/../.."
. bench/l4/common.sh
l4_netns "$0" "$@"
echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range
echo 1 >/proc/sys/net/ipv4/tcp_tw_reuse

DURATION=${DURATION:-10}
PARTS=${PARTS:-http,bulk,idle} # which parts to run
CONNS=${CONNS:-64}
IDLE=${IDLE:-100000}
PROXY_CPU=1
CLIENT_CPU=0
NOFILE=$(ulimit -Hn)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
ulimit -n "$NOFILE"
# Two descriptors per proxied connection, and room for the rest.
FIT=$(((NOFILE - 500) / 2))
if ((IDLE > FIT)); then
	echo "bench/l4: $IDLE idle connections need $((2 * IDLE + 500)) open files in one proxy process, but the hard limit (ulimit -Hn) is $NOFILE: running $FIT. Raise the limit (LimitNOFILE=, limits.conf, or CAP_SYS_RESOURCE) to run $IDLE." >&2
	IDLE=$FIT
fi

l4_need haproxy nginx wrk iperf3 taskset go python3 -- haproxy nginx libnginx-mod-stream wrk iperf3 util-linux python3
STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so
[[ -f $STREAM_MOD ]] || { echo "bench/l4: $STREAM_MOD is missing; apt-get install -y libnginx-mod-stream" >&2; exit 1; }

l4_workdir run

# Ports: HTTP backend 18080; iperf3 server 15201; idle backends 18101-18104.
# Proxy p (1 haproxy, 2 nginx, 3 switchboard) listens on 1808p (HTTP),
# 1809p (iperf3) and 1811p (idle).
mkdir -p "$tmp/nginx-backend" "$tmp/nginx-stream"
cat >"$tmp/nginx-backend/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $tmp/nginx-backend/pid;
error_log $tmp/nginx-backend/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx-backend;
  proxy_temp_path $tmp/nginx-backend;
  fastcgi_temp_path $tmp/nginx-backend;
  uwsgi_temp_path $tmp/nginx-backend;
  scgi_temp_path $tmp/nginx-backend;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:18080 backlog=4096; location / { return 200 "ok\n"; } }
}
CONF
cat >"$tmp/nginx-stream/nginx.conf" <<CONF
load_module $STREAM_MOD;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $tmp/nginx-stream/pid;
error_log $tmp/nginx-stream/error.log warn;
events { worker_connections $((2 * IDLE + 200)); }
stream {
  proxy_timeout 350s;
  upstream idle { server 127.0.0.1:18101; server 127.0.0.1:18102; server 127.0.0.1:18103; server 127.0.0.1:18104; }
  server { listen 127.0.0.1:18082 backlog=4096; proxy_pass 127.0.0.1:18080; }
  server { listen 127.0.0.1:18092; proxy_pass 127.0.0.1:15201; }
  server { listen 127.0.0.1:18112 backlog=4096; proxy_pass idle; }
}
CONF
{
	l4_haproxy_global $((IDLE + 50))
	l4_haproxy_proxy http 127.0.0.1:18081 127.0.0.1:18080
	l4_haproxy_proxy bulk 127.0.0.1:18091 127.0.0.1:15201
	l4_haproxy_proxy idle 127.0.0.1:18111 127.0.0.1:18101 127.0.0.1:18102 127.0.0.1:18103 127.0.0.1:18104
} >"$tmp/haproxy.cfg"
cat >"$tmp/switchboard.yaml" <<CONF
zones: [{ name: a }]
target_groups:
  - { name: http, protocol: tcp, targets: [{ address: 127.0.0.1, port: 18080, zone: a }] }
  - { name: bulk, protocol: tcp, targets: [{ address: 127.0.0.1, port: 15201, zone: a }] }
  - name: idle
    protocol: tcp
    targets:
      - { address: 127.0.0.1, port: 18101, zone: a }
      - { address: 127.0.0.1, port: 18102, zone: a }
      - { address: 127.0.0.1, port: 18103, zone: a }
      - { address: 127.0.0.1, port: 18104, zone: a }
load_balancers:
  - name: bench
    listeners:
      - { protocol: tcp, port: 18083, address: 127.0.0.1, default_action: { forward: { target_groups: [{ name: http }] } } }
      - { protocol: tcp, port: 18093, address: 127.0.0.1, default_action: { forward: { target_groups: [{ name: bulk }] } } }
      - { protocol: tcp, port: 18113, address: 127.0.0.1, default_action: { forward: { target_groups: [{ name: idle }] } } }
CONF

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench/l4: nothing listens on port $1" >&2
	exit 1
}

# Backends and proxies.
taskset -c $CLIENT_CPU nginx -c "$tmp/nginx-backend/nginx.conf" -g 'daemon off;' &
pids+=($!)
taskset -c $CLIENT_CPU iperf3 -s -p 15201 >/dev/null &
pids+=($!)
taskset -c $CLIENT_CPU "$tmp/l4tool" hold 127.0.0.1:18101,127.0.0.1:18102,127.0.0.1:18103,127.0.0.1:18104 >/dev/null &
pids+=($!)
taskset -c $PROXY_CPU haproxy -db -f "$tmp/haproxy.cfg" &
haproxy_pid=$!
pids+=($haproxy_pid)
taskset -c $PROXY_CPU nginx -c "$tmp/nginx-stream/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=($nginx_pid)
GOMAXPROCS=1 taskset -c $PROXY_CPU "$tmp/l4tool" proxy "$tmp/switchboard.yaml" >/dev/null 2>"$tmp/l4tool.log" &
sb_pid=$!
pids+=($sb_pid)
for p in 18080 15201 18101 18081 18082 18083; do wait_port $p; done
sleep 0.5

# proc_pids PID: the process and its children (nginx's worker).
proc_pids() { echo "$1" $(pgrep -P "$1" || true); }
# cpu_ticks PID: user+system clock ticks of the process and its children.
cpu_ticks() {
	local t=0
	for p in $(proc_pids "$1"); do
		t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat)))
	done
	echo $t
}
# rss_kb PID: resident memory of the process and its children, KiB.
rss_kb() {
	local t=0
	for p in $(proc_pids "$1"); do
		t=$((t + $(awk '/VmRSS/ {print $2}' /proc/"$p"/status)))
	done
	echo $t
}
# heap_inuse: the Go heap in use that l4tool last reported (on SIGUSR1).
heap_inuse() { awk '/heap_inuse/ { h = $4 } END { print h + 0 }' "$tmp/l4tool.log"; }
HZ=$(getconf CLK_TCK)
secs() { awk -v t="$1" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }'; }

names=(haproxy nginx switchboard)
ppids=($haproxy_pid $nginx_pid $sb_pid)
if [[ $PARTS == *http* ]]; then
echo "== HTTP through the proxy (wrk -t1 -c$CONNS -d${DURATION}s, nginx backend returning 3 bytes)"
printf "%-12s %-11s %10s %10s %10s %12s\n" proxy mode req/s avg p99 proxy-cpu-s
declare -A rps
for mode in close keepalive; do
	for i in 0 1 2 3; do
		if ((i == 3)); then name=direct port=18080; else name=${names[$i]} port=$((18081 + i)); fi
		hdr=()
		[[ $mode == close ]] && hdr=(-H 'Connection: close')
		before=0
		((i < 3)) && before=$(cpu_ticks "${ppids[$i]}")
		out=$(taskset -c $CLIENT_CPU wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" "http://127.0.0.1:$port/")
		cpu=-
		((i < 3)) && cpu=$(secs $(($(cpu_ticks "${ppids[$i]}") - before)))
		r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		avg=$(awk '/^    Latency/ {print $2}' <<<"$out")
		p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
		errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" || true)
		rps[$name/$mode]=$r
		printf "%-12s %-11s %10s %10s %10s %12s %s\n" "$name" "$mode" "$r" "$avg" "$p99" "$cpu" "$errs"
	done
done
for mode in close keepalive; do
	awk -v s="${rps[switchboard/$mode]}" -v h="${rps[haproxy/$mode]}" -v m="$mode" \
		'BEGIN { printf "switchboard/haproxy req/s ratio (%s): %.2f\n", m, s / h }'
done
fi

if [[ $PARTS == *bulk* ]]; then
echo
echo "== Bulk throughput (iperf3 -t $DURATION, one stream)"
printf "%-12s %12s %12s\n" path Gbit/s proxy-cpu-s
declare -A bw
for i in 3 0 1 2; do
	if ((i == 3)); then name=direct port=15201; else name=${names[$i]} port=$((18091 + i)); fi
	before=0
	((i < 3)) && before=$(cpu_ticks "${ppids[$i]}")
	out=$(taskset -c $CLIENT_CPU iperf3 -c 127.0.0.1 -p $port -t "$DURATION" -J)
	cpu=-
	((i < 3)) && cpu=$(secs $(($(cpu_ticks "${ppids[$i]}") - before)))
	g=$(python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out")
	bw[$name]=$g
	printf "%-12s %12s %12s\n" "$name" "$g" "$cpu"
done
awk -v s="${bw[switchboard]}" -v d="${bw[direct]}" 'BEGIN { printf "switchboard/direct throughput: %.0f%%\n", 100 * s / d }'
fi

if [[ $PARTS == *idle* ]]; then
echo
echo "== $IDLE idle proxied connections (sources 127.0.0.2-9, four backend ports)"
printf "%-12s %12s %12s %14s\n" proxy rss-before rss-after bytes/conn
srcs=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9
declare -A per
for i in 0 1 2; do
	name=${names[$i]} port=$((18111 + i))
	wait_port $port
	if [[ $name == switchboard ]]; then
		kill -USR1 "${ppids[$i]}"
		sleep 1
		h0=$(heap_inuse)
	fi
	r0=$(rss_kb "${ppids[$i]}")
	fifo=$tmp/idle-$i
	mkfifo "$fifo"
	taskset -c $CLIENT_CPU "$tmp/l4tool" idle -to 127.0.0.1:$port -n "$IDLE" -src $srcs <"$fifo" >"$tmp/idle-$i.out" 2>&1 &
	idle_pid=$!
	exec 7>"$fifo"
	for _ in $(seq 600); do grep -q open "$tmp/idle-$i.out" 2>/dev/null && break; kill -0 $idle_pid 2>/dev/null || break; sleep 0.1; done
	if ! grep -q open "$tmp/idle-$i.out"; then
		echo "$name: could not open $IDLE connections: $(tail -1 "$tmp/idle-$i.out")" >&2
		exec 7>&-
		wait $idle_pid || true
		continue
	fi
	sleep 2
	established=$(ss -Htn state established "( sport = :$port )" | wc -l)
	r1=$(rss_kb "${ppids[$i]}")
	b=$(((r1 - r0) * 1024 / IDLE))
	per[$name]=$b
	settled=
	if [[ $name == switchboard ]]; then
		# The Go heap holds the garbage of opening the connections until
		# the next collection; SIGUSR1 makes l4tool collect and return free
		# memory, which a long-running proxy's scavenger does by itself.
		kill -USR1 "${ppids[$i]}"
		sleep 1
		r2=$(rss_kb "${ppids[$i]}")
		per[$name]=$(((r2 - r0) * 1024 / IDLE))
		h1=$(heap_inuse)
		settled="; after GC: $r2 K, ${per[$name]} bytes/conn; Go HeapInuse $(((h1 - h0) / IDLE)) bytes/conn"
	fi
	printf "%-12s %10s K %10s K %14s   (%s established%s)\n" "$name" "$r0" "$r1" "$b" "$established" "$settled"
	exec 7>&-
	wait $idle_pid || true
	sleep 2
done
awk -v s="${per[switchboard]:-0}" -v h="${per[haproxy]:-1}" 'BEGIN { printf "switchboard/haproxy memory per connection: %.2f\n", s / h }'
fi
