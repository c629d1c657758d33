# Shared set-up of the bench/l4 scripts that compare one proxied TCP path
# (perconn.sh, bulk.sh). Source it from the repository's root.

# l4_netns re-runs the calling script in a network namespace of its own
# (loopback up), so that its ports and TIME_WAIT table are private.
# Call it as: l4_netns "$0" "$@"
l4_netns() {
	if [[ ${L4BENCH_NETNS:-0} != 1 ]]; then
		exec env L4BENCH_NETNS=1 unshare -n bash "$@"
	fi
	ip link set lo up
}

# l4_need TOOL... -- PACKAGES: stops with the apt-get line when a tool is missing.
l4_need() {
	local tools=() t
	while [[ $1 != -- ]]; do tools+=("$1"); shift; done
	shift
	for t in "${tools[@]}"; do
		command -v "$t" >/dev/null || { echo "bench/l4: $t is missing; apt-get install -y $*" >&2; exit 1; }
	done
}

# l4_workdir NAME makes $tmp, kills the processes in $pids and removes
# $tmp on exit (KEEP=1 keeps it and says where), and builds $tmp/l4tool.
l4_workdir() {
	tmp=$(mktemp -d "/tmp/bench-l4-$1.XXXXXX")
	pids=()
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
		if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $tmp"; else rm -rf "$tmp"; fi' EXIT
	go build -o "$tmp/l4tool" ./bench/l4/l4tool
}

# l4_haproxy_global [MAXCONN]: HAProxy's global and defaults sections, one
# thread, mode tcp.
l4_haproxy_global() {
	echo "global"
	[[ -n ${1:-} ]] && echo "  maxconn $1"
	cat <<CONF
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 350s
  timeout server 350s
CONF
}

# l4_haproxy_proxy NAME BIND SERVER...: a frontend on BIND and its backend,
# round robin over the SERVERs.
l4_haproxy_proxy() {
	local name=$1 bind=$2 i=0 s
	shift 2
	printf 'frontend %s\n  bind %s\n  default_backend %s\nbackend %s\n  balance roundrobin\n' "$name" "$bind" "$name" "$name"
	for s in "$@"; do
		i=$((i + 1))
		echo "  server b$i $s"
	done
}

# l4_haproxy NAME BIND SERVER: HAProxy in mode tcp, one thread, from BIND to SERVER.
l4_haproxy() {
	l4_haproxy_global
	l4_haproxy_proxy "$@"
}

# l4_switchboard NAME TARGET_PORT LISTEN_PORT: a switchboard configuration
# with one tcp listener on 127.0.0.1 forwarding to 127.0.0.1:TARGET_PORT.
l4_switchboard() {
	cat <<CONF
zones: [{ name: a }]
target_groups:
  - { name: $1, protocol: tcp, targets: [{ address: 127.0.0.1, port: $2, zone: a }] }
load_balancers:
  - name: bench
    listeners:
      - { protocol: tcp, port: $3, address: 127.0.0.1, default_action: { forward: { target_groups: [{ name: $1 }] } } }
CONF
}
