#!/usr/bin/env bash
# Stream fuzz smoke step (run by the test command after `swift test`): builds the libFuzzer
# targets of Fuzz/Stream (segment and snapshot parsing, restore over adversarial chains is
# covered by the stream's tests) with ASan and libFuzzer and runs each briefly on its seed
# corpus, printing the executions per target. Exits non-zero on any crash, hang or sanitizer
# report. STREAM_FUZZ_SMOKE_SECONDS sets the time per target (default 15).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${STREAM_FUZZ_SMOKE_SECONDS:-15}"
cd "$root/Fuzz/Stream"
build=(swift build --scratch-path "$root/Fuzz/Stream/.build-fuzz" --sanitize=address --sanitize=fuzzer)
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
status=0
for pair in FuzzSegment:segment FuzzSnapshot:snapshot; do
    target="${pair%%:*}" corpus="${pair##*:}"
    log="$(mktemp)"
    work="$(mktemp -d)"
    if "${build[@]}" --product "$target" >"$log" 2>&1 &&
        "$("${build[@]}" --show-bin-path)/$target" "$work" "Corpus/$corpus" \
            -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" >>"$log" 2>&1; then
        execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
        echo "stream fuzz smoke: $target ok, ${execs:-?} executions in ${seconds} s"
    else
        echo "stream fuzz smoke: $target FAILED (build, crash, hang or sanitizer report); last lines:" >&2
        grep -v 'Cannot export local symbol' "$log" | tail -40 >&2
        status=1
    fi
    rm -rf "$log" "$work"
done
exit $status
