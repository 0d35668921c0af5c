#!/usr/bin/env bash
# Proves gocheck against the Go-written fixtures: for every fixture, `gocheck check` prints
# exactly OK and `gocheck export` equals its .export.jsonl byte for byte. Then proves that
# check can fail: a copy whose meta page claims one page more than the tree and free list
# account for must be reported ("unreachable unfreed", exit 1).
# Usage: check-gocheck.sh [GOCHECK] (default .build-go/gocheck); fixtures from
# $WITCHBOLT_FIXTURES or ../shared/fixtures beside the project.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GOCHECK="${1:-$ROOT/.build-go/gocheck}"
FIXTURES="${WITCHBOLT_FIXTURES:-$ROOT/../shared/fixtures}"

[[ -x "$GOCHECK" ]] || { echo "check-gocheck: $GOCHECK not built (scripts/build-gocheck.sh)" >&2; exit 1; }
[[ -d "$FIXTURES" ]] || { echo "check-gocheck: fixtures dir $FIXTURES missing" >&2; exit 1; }

# Work on copies: the fixtures dir is read-only in CI, and bbolt wants to lock the file.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gocheck-proof.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

failures=0
count=0
for db in "$FIXTURES"/*.db; do
    name="$(basename "$db" .db)"
    count=$((count + 1))
    cp "$db" "$WORK/$name.db"
    chmod u+rw "$WORK/$name.db"

    # Check must answer exactly OK.
    verdict="$("$GOCHECK" check "$WORK/$name.db" 2>&1)" || true
    if [[ "$verdict" != "OK" ]]; then
        echo "FAIL $name: check said: $(head -5 <<<"$verdict")"
        failures=$((failures + 1))
        continue
    fi

    # Export must equal the manifest byte for byte.
    if ! "$GOCHECK" export "$WORK/$name.db" >"$WORK/$name.out"; then
        echo "FAIL $name: export failed"
        failures=$((failures + 1))
    elif ! cmp -s "$WORK/$name.out" "$FIXTURES/$name.export.jsonl"; then
        echo "FAIL $name: export differs from $name.export.jsonl: $(cmp "$WORK/$name.out" "$FIXTURES/$name.export.jsonl" 2>&1 | head -1)"
        failures=$((failures + 1))
    else
        echo "ok   $name: check OK, export equal ($(wc -l <"$WORK/$name.out") lines)"
    fi
done
if [[ $count -eq 0 ]]; then
    echo "FAIL no *.db fixtures in $FIXTURES"
    failures=$((failures + 1))
fi

# Corrupt a copy of basic.db: raise the active meta page's page count by one (fixing its
# FNV-1a checksum), so that the last page is neither reachable nor free.
if [[ -f "$FIXTURES/basic.db" ]]; then
    cp "$FIXTURES/basic.db" "$WORK/corrupt.db"
    chmod u+rw "$WORK/corrupt.db"
    python3 - "$WORK/corrupt.db" <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    data = bytearray(f.read())
    page_size = struct.unpack_from("<I", data, 24)[0]
    def meta(i):
        base = i * page_size
        return base, struct.unpack_from("<Q", data, base + 64)[0]
    base, _ = max((meta(0), meta(1)), key=lambda m: m[1])
    pgid = struct.unpack_from("<Q", data, base + 56)[0]
    assert (pgid + 1) * page_size <= len(data), "file too small to add a page"
    struct.pack_into("<Q", data, base + 56, pgid + 1)
    h = 0xcbf29ce484222325
    for b in data[base + 16: base + 72]:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    struct.pack_into("<Q", data, base + 72, h)
    f.seek(0)
    f.write(data)
PY
    rc=0
    verdict="$(GOCHECK_TIMEOUT_SECONDS=30 "$GOCHECK" check "$WORK/corrupt.db" 2>&1)" || rc=$?
    if [[ $rc -eq 1 && "$verdict" == *"unreachable unfreed"* ]]; then
        echo "ok   corrupt copy of basic: check reported it (exit 1): $(head -1 <<<"$verdict")"
    else
        echo "FAIL corrupt copy of basic: expected exit 1 with 'unreachable unfreed', got exit $rc: $(head -3 <<<"$verdict")"
        failures=$((failures + 1))
    fi
fi

if [[ $failures -ne 0 ]]; then
    echo "check-gocheck: $failures failure(s)"
    exit 1
fi
echo "check-gocheck: all $count fixtures pass"
