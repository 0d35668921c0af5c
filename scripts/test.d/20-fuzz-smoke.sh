#!/usr/bin/env bash
# Fuzz smoke step (run by the test command after `swift test`): builds every fuzz target of
# the Fuzz package with ASan and libFuzzer and runs each briefly on its seed corpus, printing
# the executions per target. Exits non-zero on any crash, hang or sanitizer report.
# FUZZ_SMOKE_SECONDS sets the time per target (default 20).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${FUZZ_SMOKE_SECONDS:-20}"
status=0
for target in FuzzHostileFile FuzzOperations; do
    log="$(mktemp)"
    # Fuzz/run exits 3 when a build came out without coverage instrumentation (seen on
    # clean builds now and then); a second build from clean has always carried it.
    rc=0
    "$root/Fuzz/run" "$target" "$seconds" >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 3 ]; then
        echo "fuzz smoke: $target built without coverage instrumentation; rebuilding from clean" >&2
        rm -rf "$root/Fuzz/.build-fuzz"
        rc=0
        "$root/Fuzz/run" "$target" "$seconds" >"$log" 2>&1 || rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
        echo "fuzz smoke: $target ok, ${execs:-?} executions in ${seconds} s"
    else
        echo "fuzz smoke: $target FAILED (crash, hang or sanitizer report); last lines:" >&2
        grep -v 'Cannot export local symbol' "$log" | tail -40 >&2
        status=1
    fi
    rm -f "$log"
done
exit $status
