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
for target in "FuzzQuery ./internal/dnsserver" "FuzzFastPath ./internal/dnsserver" "FuzzParse ./internal/config"; do
	set -- $target
	go test -run '^$' -fuzz "^$1\$" -fuzztime 15s -fuzzminimizetime 3s "$2"
done
