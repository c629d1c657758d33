#!/usr/bin/env bash
# Runs every check CI runs: formatting, go vet, and all tests with the race
# detector (unit, golden, fuzz seeds, crash and end-to-end tests). Installs
# what the tests need first, so it works on a fresh Debian machine as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)   # the race detector needs cgo
command -v prometheus >/dev/null || need_apt+=(prometheus) # metric checks against a real server
command -v dig >/dev/null || need_apt+=(dnsutils)          # DNS answers checked with a real client
command -v nsd >/dev/null || need_apt+=(nsd)               # zone transfer to a real secondary
command -v aws >/dev/null || need_apt+=(awscli)            # the Route 53 API driven by the real aws CLI
command -v chromium >/dev/null || need_apt+=(chromium)     # the dashboard driven in a real browser
# IPVS tests boot Debian's kernel (it has ip_vs; the host's may not) under qemu.
compgen -G '/lib/modules/*/kernel/net/netfilter/ipvs/ip_vs.ko*' >/dev/null && compgen -G '/boot/vmlinuz-*' >/dev/null ||
	need_apt+=(linux-image-amd64)
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
[ -x /bin/busybox ] && ! head -c 4096 /bin/busybox | grep -qa ld-linux || need_apt+=(busybox-static) # static: it is the guest's only program
command -v cpio >/dev/null || need_apt+=(cpio)             # the initramfs test reads archives back
command -v nft >/dev/null || need_apt+=(nftables)          # the nft data plane's static rules, and its tests
command -v ip >/dev/null || need_apt+=(iproute2)           # network namespaces for the kernel data plane tests
if ((${#need_apt[@]})); then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
	else
		echo "scripts/test.sh: missing ${need_apt[*]}: install them (apt-get install ${need_apt[*]})" >&2
		exit 1
	fi
fi
command -v go >/dev/null || { echo "scripts/test.sh: Go 1.26 or newer is required (https://go.dev/dl/)" >&2; exit 1; }

go mod download
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 ./...

# Bounded fuzzing of the parsers that face the network and the operator
# (FuzzFastPath: the DNS wire fast path against the general one):
# a crash found here fails the run, and its input lands in testdata/fuzz.
for target in "FuzzQuery ./internal/dnsserver" "FuzzFastPath ./internal/dnsserver" "FuzzParse ./internal/config" "FuzzRequests ./internal/api/route53"; do
	set -- $target
	go test -run '^$' -fuzz "^$1\$" -fuzztime 15s -fuzzminimizetime 3s "$2"
done
# The proxies' parsers of client and target bytes: PROXY protocol headers, ClientHellos, HTTP/1.1
# requests and the answers of HTTP/1.1 targets.
for target in "FuzzParse ./internal/proxyproto" "FuzzServerName ./internal/l4proxy" "FuzzParseRequest ./internal/httpproxy" "FuzzParseResponse ./internal/httpproxy" \
	"FuzzScanResponse ./internal/httpproxy" "FuzzAppendRequest ./internal/httpproxy"; do
	set -- $target
	go test -run '^$' -fuzz "^$1\$" -fuzztime 10s -fuzzminimizetime 3s "$2"
done
