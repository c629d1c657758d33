#!/usr/bin/env bash
# Bulk throughput through switchboard's L4 proxy against a direct loopback
# connection (and HAProxy), in interleaved rounds so that the load of a
# shared machine falls on every path alike: each round runs one
# `iperf3 -c -t DURATION` (one stream) direct, through switchboard (and
# through an older build with BASE=) and through HAProxy, back to back. It
# prints each run, then per path the median Gbit/s, the median of the
# per-round ratios to the direct run of the same round, and proxy
# CPU-seconds per GB moved (from /proc/PID/stat). The proxies are pinned
# to CPU 1 (GOMAXPROCS=1, nbthread 1); iperf3's client and server to CPU 0.
#
#   bash bench/l4/bulk.sh                       # ROUNDS=5 DURATION=3
#   BASE=/tmp/l4tool.old bash bench/l4/bulk.sh  # A/B against another build
#   STRACE=1 bash bench/l4/bulk.sh              # also the splice sizes of one run
set -euo pipefail

cd "$(dirname "$0")/../.."
. bench/l4/common.sh
l4_netns "$0" "$@"
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
l4_need haproxy iperf3 taskset go python3 -- haproxy iperf3 util-linux python3
l4_workdir bulk
l4_haproxy bulk 127.0.0.1:18091 127.0.0.1:15201 >"$tmp/haproxy.cfg"
l4_switchboard bulk 15201 18093 >"$tmp/sb.yaml"
l4_switchboard bulk 15201 18094 >"$tmp/base.yaml"

taskset -c 0 iperf3 -s -p 15201 >/dev/null &
pids+=($!)
taskset -c 1 haproxy -db -f "$tmp/haproxy.cfg" &
hp=$!
pids+=($hp)
GOMAXPROCS=1 taskset -c 1 "$tmp/l4tool" proxy "$tmp/sb.yaml" >/dev/null 2>&1 &
sb=$!
pids+=($sb)
names=(direct switchboard haproxy) procs=(0 $sb $hp) ports=(15201 18093 18091)
if [[ -n ${BASE:-} ]]; then
	GOMAXPROCS=1 taskset -c 1 "$BASE" proxy "$tmp/base.yaml" >/dev/null 2>&1 &
	pids+=($!)
	names+=(base) procs+=($!) ports+=(18094)
fi
sleep 1

ticks() { if [[ $1 == 0 ]]; then echo 0; else awk '{print $14 + $15}' /proc/"$1"/stat; fi; }
HZ=$(getconf CLK_TCK)
echo "== iperf3 -t $DURATION, one stream, $ROUNDS interleaved rounds (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for r in $(seq "$ROUNDS"); do
	for i in "${!names[@]}"; do
		n=${names[$i]}
		t0=$(ticks "${procs[$i]}")
		out=$(taskset -c 0 iperf3 -c 127.0.0.1 -p "${ports[$i]}" -t "$DURATION" -J)
		t1=$(ticks "${procs[$i]}")
		python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]["sum_received"]
print(sys.argv[1], sys.argv[2], "%.3f" % (e["bits_per_second"] / 1e9), e["bytes"], (int(sys.argv[3]) - int(sys.argv[4])) / int(sys.argv[5]))
' "$r" "$n" "$t1" "$t0" "$HZ" <<<"$out" >>"$tmp/runs"
	done
done
python3 - "$tmp/runs" <<'PY'
import sys, statistics as st
runs = [l.split() for l in open(sys.argv[1])]
by = {}
for r, n, g, b, c in runs:
    by.setdefault(n, {})[int(r)] = (float(g), int(b), float(c))
for r in sorted(by["direct"]):
    print("round %d  " % r + "  ".join("%s %.2f" % (n, by[n][r][0]) for n in by))
print()
print("%-12s %10s %16s %18s" % ("path", "Gbit/s", "ratio to direct", "proxy CPU-s/GB"))
for n in by:
    g = st.median(v[0] for v in by[n].values())
    ratio = st.median(by[n][r][0] / by["direct"][r][0] for r in by[n])
    cpu = sum(v[2] for v in by[n].values()) / (sum(v[1] for v in by[n].values()) / 1e9)
    print("%-12s %10.2f %15.0f%% %18s" % (n, g, 100 * ratio, "-" if n == "direct" else "%.3f" % cpu))
PY

if [[ ${STRACE:-0} == 1 ]]; then
	echo
	echo "== strace of switchboard's splices during one iperf3 -t 2"
	strace -f -e trace=splice -p "$sb" -o "$tmp/strace" 2>/dev/null &
	st=$!
	sleep 0.5
	taskset -c 0 iperf3 -c 127.0.0.1 -p 18093 -t 2 >/dev/null
	kill -INT $st
	wait $st || true
	awk '/splice\(/ && $NF ~ /^[0-9]+$/ { n++; s += $NF; if ($NF >= 65536) big++ } END { printf "%d splices, %.0f bytes on average, %d of 64 KiB or more\n", n, s / n, big }' "$tmp/strace"
fi
