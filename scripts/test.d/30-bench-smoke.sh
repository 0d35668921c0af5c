#!/usr/bin/env bash
# Benchmark smoke test: a tiny run (2,000 keys, 200 commits, one run, no fsync) of every
# workload on both engines through `witchbolt-bench --json`, checking that each engine reports
# each workload with a positive rate and that the ratios are printed; durable commits with
# fsync, the engines taking turns (`--interleave`); the same with
# `--replicate` to a file replica (write workloads with Stream on and their lag and overhead,
# snapshot and restore with their memory figures, `--compression` and `--shadow-dir`, the
# replica cleaned up afterwards); a tiny
# `witchbolt bench`; and that the `witchbolt` executable does not link LMDB (only
# witchbolt-bench may).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BIN="$(swift build --show-bin-path)"
if [[ ! -x "$BIN/witchbolt-bench" || ! -x "$BIN/witchbolt" ]]; then
    swift build --product witchbolt-bench
    swift build --product witchbolt
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/witchbolt-bench-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Every workload, both engines.
"$BIN/witchbolt-bench" --engine both --count 2000 --batch-size 100 --commit-count 200 --runs 1 \
    --no-sync --json --path "$WORK/both" >"$WORK/out.jsonl" 2>"$WORK/err.log" || {
    cat "$WORK/err.log" >&2
    echo "bench-smoke: witchbolt-bench failed" >&2
    exit 1
}
python3 - "$WORK/out.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
results = {(l["engine"], l["workload"]): l for l in lines if "engine" in l}
ratios = {l["workload"] for l in lines if "ratio" in l}
workloads = ["seq-insert", "rnd-insert", "rnd-read", "seq-scan", "durable-commit"]
problems = []
for w in workloads:
    for e in ["witchbolt", "lmdb"]:
        r = results.get((e, w))
        if r is None:
            problems.append(f"{e} {w}: no result")
        elif not (r["opsPerSecond"] > 0 and r["nsPerOp"] > 0 and r["ops"] > 0):
            problems.append(f"{e} {w}: not a positive rate: {r}")
        elif w == "durable-commit" and not ("p50Micros" in r and "p99Micros" in r):
            problems.append(f"{e} {w}: no latency percentiles")
    if w not in ratios:
        problems.append(f"{w}: no ratio")
for p in problems:
    print("bench-smoke:", p, file=sys.stderr)
if problems:
    sys.exit(1)
for w in workloads:
    print(f"bench-smoke: {w}: witchbolt {results[('witchbolt', w)]['opsPerSecond']:.0f} ops/s, "
          f"lmdb {results[('lmdb', w)]['opsPerSecond']:.0f} ops/s")
PY

# Durable commits with fsync on, both engines taking turns of 20 commits (--interleave):
# each engine reports all 60 commits with their percentiles, and the ratio is the median of
# the two runs' own ratios.
"$BIN/witchbolt-bench" --engine both --workloads durable-commit --commit-count 60 --interleave 20 --runs 2 \
    --count 100 --json --path "$WORK/interleaved" >"$WORK/interleaved.jsonl" 2>"$WORK/err.log" || {
    cat "$WORK/err.log" >&2
    echo "bench-smoke: witchbolt-bench --interleave failed" >&2
    exit 1
}
grep -q "in turns of 20" "$WORK/err.log" || { echo "bench-smoke: durable-commit did not run in turns" >&2; exit 1; }
python3 - "$WORK/interleaved.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
results = {l["engine"]: l for l in lines if l.get("workload") == "durable-commit" and "engine" in l}
problems = [f"{e}: no 60 commits with percentiles: {results.get(e)}" for e in ["witchbolt", "lmdb"]
            if not (results.get(e, {}).get("ops") == 60 and results[e]["opsPerSecond"] > 0 and "p99Micros" in results[e])]
ratio = next((l for l in lines if l.get("workload") == "durable-commit" and "ratio" in l), None)
if ratio is None:
    problems.append("no durable-commit ratio")
elif not (ratio.get("pairedRuns") == 2 and len(ratio.get("runRatios", [])) == 2 and min(ratio["runRatios"]) <= ratio["ratio"] <= max(ratio["runRatios"])):
    problems.append(f"the durable-commit ratio is not the median of the two runs' own ratios: {ratio}")
for p in problems:
    print("bench-smoke: interleaved", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
if "$BIN/witchbolt-bench" --interleave -1 --count 10 --runs 1 >/dev/null 2>"$WORK/err.log" || ! grep -q -- "--interleave" "$WORK/err.log"; then
    echo "bench-smoke: --interleave -1 should be refused naming the option" >&2
    exit 1
fi

# With Stream on, to a file replica: every write workload with and without Stream, snapshot,
# restore; zstd level 1 and the shadow directories in a directory of their own.
"$BIN/witchbolt-bench" --engine witchbolt --count 2000 --batch-size 100 --commit-count 100 --runs 1 \
    --no-sync --json --path "$WORK/replicated" --replicate "file://$WORK/replica" \
    --compression zstd:1 --shadow-dir "$WORK/shadows" >"$WORK/replicated.jsonl" 2>"$WORK/err.log" || {
    cat "$WORK/err.log" >&2
    echo "bench-smoke: witchbolt-bench --replicate failed" >&2
    exit 1
}
python3 - "$WORK/replicated.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
results = {(l["engine"], l["workload"]): l for l in lines if "engine" in l}
overheads = {l["workload"]: l for l in lines if "replicationOverhead" in l}
problems = []
for w in ["seq-insert", "rnd-insert", "durable-commit"]:
    plain, streamed = results.get(("witchbolt", w)), results.get(("witchbolt+stream", w))
    if plain is None or streamed is None:
        problems.append(f"{w}: missing with or without Stream")
        continue
    if not (streamed["opsPerSecond"] > 0 and streamed.get("replicate") is True):
        problems.append(f"{w}: witchbolt+stream is not a replicated positive rate: {streamed}")
    if not (streamed.get("lagCommits", 0) > 0 and streamed.get("lagUnconfirmed") == 0 and "catchUpMillis" in streamed
            and 0 <= streamed["lagP50Millis"] <= streamed["lagP99Millis"] <= streamed["lagMaxMillis"]):
        problems.append(f"{w}: no consistent lag figures: {streamed}")
    if streamed.get("streamGenerations", 0) < 1:
        problems.append(f"{w}: no stream generation count: {streamed}")
    o = overheads.get(w, {})
    if not o.get("replicationOverhead", 0) > 0:
        problems.append(f"{w}: no replication overhead")
    elif not (o.get("pairedRuns") == 1 and o.get("runRatios") == [o["replicationOverhead"]]):
        problems.append(f"{w}: the overhead is not the one run's own pair: {o}")
for engine in ["witchbolt+stream", "copy"]:
    for w in (["snapshot", "restore"] if engine == "witchbolt+stream" else ["restore"]):
        r = results.get((engine, w))
        if r is None:
            problems.append(f"{engine} {w}: no result")
        elif not (r["bytes"] > 0 and r["megabytesPerSecond"] > 0 and r.get("memorySamples", 0) > 0 and r["peakAnonAboveBaselineBytes"] >= 0):
            problems.append(f"{engine} {w}: no throughput or memory figures: {r}")
if not any("restoreVsCopy" in l for l in lines):
    problems.append("restore: no comparison with the plain copy")
if ("witchbolt+stream", "rnd-read") in results:
    problems.append("witchbolt+stream ran a read workload")
for p in problems:
    print("bench-smoke:", p, file=sys.stderr)
if problems:
    sys.exit(1)
for w, l in overheads.items():
    print(f"bench-smoke: {w}: time with/without Stream {l['replicationOverhead']}, "
          f"lag p99 {results[('witchbolt+stream', w)]['lagP99Millis']} ms")
print(f"bench-smoke: snapshot {results[('witchbolt+stream', 'snapshot')]['megabytesPerSecond']} MiB/s, "
      f"restore {results[('witchbolt+stream', 'restore')]['megabytesPerSecond']} MiB/s")
PY
if [[ ! -d "$WORK/shadows" ]] || compgen -G "$WORK/replicated/*-stream" >/dev/null; then
    echo "bench-smoke: --shadow-dir was not used for the shadow directories" >&2
    exit 1
fi
if "$BIN/witchbolt-bench" --engine witchbolt --replicate "file://$WORK/replica" --compression lz4 --count 10 --runs 1 >/dev/null 2>"$WORK/err.log" \
    || ! grep -q -- "--compression" "$WORK/err.log"; then
    echo "bench-smoke: --compression lz4 should be refused naming the option" >&2
    exit 1
fi
if [[ -n "$(ls -A "$WORK/replica" 2>/dev/null)" ]]; then
    echo "bench-smoke: witchbolt-bench --replicate left objects in the replica: $(ls -A "$WORK/replica")" >&2
    exit 1
fi
"$BIN/witchbolt-bench" --engine lmdb --replicate "file://$WORK/replica" --count 10 --runs 1 >/dev/null 2>&1 && {
    echo "bench-smoke: --replicate with --engine lmdb should be refused" >&2
    exit 1
}

# The CLI's own bench, durable commits included.
"$BIN/witchbolt" bench --count 2000 --batch-size 100 --write-mode rnd --read-mode rnd --path "$WORK/cli.db" | tee "$WORK/cli.txt"
grep -q "^# Write	2000(ops)" "$WORK/cli.txt"
grep -q "^# Read	2000(ops)" "$WORK/cli.txt"
"$BIN/witchbolt" bench --count 20 --batch-size 1 --path "$WORK/commits.db" | grep -q "commit latency p50"

# The inspection CLI must not link LMDB (release build too, when there is one).
for exe in "$BIN/witchbolt" "$ROOT/.build/release/witchbolt"; do
    [[ -x "$exe" ]] || continue
    # (ldd's output is captured first: with pipefail, `ldd | grep -q` can fail on SIGPIPE.)
    libs="$(ldd "$exe")"
    if grep -qi lmdb <<<"$libs"; then
        echo "bench-smoke: $exe links LMDB" >&2
        exit 1
    fi
    echo "bench-smoke: $exe does not link LMDB"
done
libs="$(ldd "$BIN/witchbolt-bench")"
if ! grep -qi lmdb <<<"$libs"; then
    echo "bench-smoke: witchbolt-bench should link LMDB but ldd does not show it" >&2
    exit 1
fi
echo "bench-smoke: OK"
