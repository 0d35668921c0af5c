#!/usr/bin/env bash
# Builds Tools/gocheck (Go bbolt 1.3.6 as a second reader of our files) to .build-go/gocheck,
# offline, from the bbolt source Debian's golang-github-coreos-bbolt-dev puts under
# /usr/share/gocode. Prints the binary's absolute path on its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GOPATH_DEBIAN=/usr/share/gocode
OUT="$ROOT/.build-go/gocheck"

# The import path main.go uses must exist in Debian's GOPATH; say how to get it if not.
if ! command -v go >/dev/null; then
    echo "build-gocheck: 'go' not found; run scripts/install-deps.sh (package golang-go)" >&2
    exit 1
fi
if [[ ! -f "$GOPATH_DEBIAN/src/go.etcd.io/bbolt/db.go" ]]; then
    echo "build-gocheck: $GOPATH_DEBIAN/src/go.etcd.io/bbolt missing;" \
        "run scripts/install-deps.sh (package golang-github-coreos-bbolt-dev)" >&2
    exit 1
fi

# Build in GOPATH mode (no module proxy, no network); keep Go's cache inside .build-go.
mkdir -p "$ROOT/.build-go"
cd "$ROOT/Tools/gocheck"
GO111MODULE=off GOPATH="$GOPATH_DEBIAN" GOFLAGS="" GOCACHE="${GOCACHE:-$ROOT/.build-go/cache}" \
    go build -o "$OUT" .
echo "$OUT"
