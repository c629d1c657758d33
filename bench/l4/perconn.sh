#!/usr/bin/env bash
# Per-connection cost of short connections through switchboard's L4 proxy
# against HAProxy, in a private network namespace: proxy CPU (from
# /proc/PID/stat) and context switches per request over interleaved wrk
# rounds, then system calls per request under strace -c -f. The proxies
# are pinned to CPU 1 (GOMAXPROCS=1, nbthread 1), wrk and the nginx backend
# to CPU 0. Rates on a shared machine move with its load; CPU per request
# from interleaved rounds is the figure to compare.
#
#   bash bench/l4/perconn.sh                      # this tree's l4tool and HAProxy
#   BASE=/tmp/l4tool.old bash bench/l4/perconn.sh # also an older l4tool build, A/B
#   DURATION=4 ROUNDS=4 STRACE=0 bash bench/l4/perconn.sh
#   MODE=keepalive bash bench/l4/perconn.sh       # per request on kept-alive connections
set -euo pipefail

cd "$(dirname "$0")/../.."
. bench/l4/common.sh
l4_netns "$0" "$@"
echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range
echo 1 >/proc/sys/net/ipv4/tcp_tw_reuse
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-4}
STRACE=${STRACE:-1}
MODE=${MODE:-close}
hdr=(-H 'Connection: close')
[[ $MODE == close ]] || hdr=()
l4_need haproxy nginx wrk taskset go -- haproxy nginx wrk util-linux
((STRACE == 0)) || command -v strace >/dev/null || { echo "bench/l4: strace is missing (or STRACE=0)" >&2; exit 1; }

l4_workdir perconn

cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4000; }
http {
  access_log off;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:18080 backlog=4096; location / { return 200 "ok\n"; } }
}
CONF
l4_haproxy http 127.0.0.1:18081 127.0.0.1:18080 >"$tmp/haproxy.cfg"
l4_switchboard http 18080 18083 >"$tmp/sb.yaml"
l4_switchboard http 18080 18084 >"$tmp/base.yaml"

taskset -c 0 nginx -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)
taskset -c 1 haproxy -db -f "$tmp/haproxy.cfg" &
hp=$!
pids+=($hp)
GOMAXPROCS=1 taskset -c 1 "$tmp/l4tool" proxy "$tmp/sb.yaml" >/dev/null 2>&1 &
sb=$!
pids+=($sb)
names=(haproxy switchboard) procs=($hp $sb) ports=(18081 18083)
if [[ -n ${BASE:-} ]]; then
	GOMAXPROCS=1 taskset -c 1 "$BASE" proxy "$tmp/base.yaml" >/dev/null 2>&1 &
	pids+=($!)
	names+=(base) procs+=($!) ports+=(18084)
fi
sleep 1

ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
declare -A cpu req sw
echo "== wrk -t1 -c64 -d${DURATION}s ($MODE), $ROUNDS interleaved rounds (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for r in $(seq "$ROUNDS"); do
	for i in "${!names[@]}"; do
		n=${names[$i]} p=${procs[$i]}
		t0=$(ticks "$p") s0=$(switches "$p")
		out=$(taskset -c 0 wrk -t1 -c64 -d"${DURATION}s" "${hdr[@]}" "http://127.0.0.1:${ports[$i]}/")
		t1=$(ticks "$p") s1=$(switches "$p")
		q=$(awk '/requests in/ {print $1}' <<<"$out")
		cpu[$n]=$((${cpu[$n]:-0} + t1 - t0)) req[$n]=$((${req[$n]:-0} + q)) sw[$n]=$((${sw[$n]:-0} + s1 - s0))
		printf "round %d %-12s %10s req/s\n" "$r" "$n" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
	done
done
HZ=$(getconf CLK_TCK)
for n in "${names[@]}"; do
	awk -v n="$n" -v c="${cpu[$n]}" -v q="${req[$n]}" -v s="${sw[$n]}" -v hz="$HZ" \
		'BEGIN { printf "%-12s %8d requests %8.1f us CPU/request %6.2f context switches/request\n", n, q, c * 1e6 / hz / q, s / q }'
done
awk -v s="${cpu[switchboard]}" -v sq="${req[switchboard]}" -v h="${cpu[haproxy]}" -v hq="${req[haproxy]}" \
	'BEGIN { printf "switchboard/haproxy CPU per request: %.2f\n", (s / sq) / (h / hq) }'

if ((STRACE)); then
	echo
	echo "== strace -c -f, wrk -t1 -c16 -d3s ($MODE)"
	for i in "${!names[@]}"; do
		n=${names[$i]}
		strace -c -f -p "${procs[$i]}" -o "$tmp/strace-$n" &
		st=$!
		sleep 0.5
		q=$(taskset -c 0 wrk -t1 -c16 -d3s "${hdr[@]}" "http://127.0.0.1:${ports[$i]}/" | awk '/requests in/ {print $1}')
		sleep 0.3
		kill -INT $st
		wait $st || true
		awk -v n="$n" -v q="$q" '$NF == "total" { printf "%-12s %8d requests %6.1f system calls/request\n", n, q, $4 / q }' "$tmp/strace-$n"
		awk -v q="$q" 'NR > 2 && $NF != "total" && $1 !~ /^-/ { if ($4 / q >= 0.05) printf "    %-14s %5.2f\n", $NF, $4 / q }' "$tmp/strace-$n"
	done
fi
