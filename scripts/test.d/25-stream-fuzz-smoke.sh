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
scratch="$root/Fuzz/Stream/.build-fuzz"
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
# Whether libFuzzer sees coverage on the seed corpus. SwiftPM hands swiftc the sanitizers in
# the reverse of the command line's order, and swiftc given `-sanitize=fuzzer
# -sanitize=address` left the Swift modules without coverage: the fuzzer then ran blind ("no
# interesting inputs") and passed. Which order instruments is not stable from one clean
# build to the next (a CI run saw both fail once), so both are tried, twice.
instrumented() {
    local out
    out="$("$1" -runs=0 "$2" 2>&1 || true)"
    grep -q 'INITED cov: [1-9]' <<<"$out"
}
status=0
for pair in FuzzSegment:segment FuzzSnapshot:snapshot; do
    target="${pair%%:*}" corpus="${pair##*:}"
    log="$(mktemp)"
    work="$(mktemp -d)"
    ok=no
    for order in "--sanitize=fuzzer --sanitize=address" "--sanitize=address --sanitize=fuzzer" \
                 "--sanitize=fuzzer --sanitize=address" "--sanitize=address --sanitize=fuzzer"; do
        # shellcheck disable=SC2206
        build=(swift build --scratch-path "$scratch" $order)
        if "${build[@]}" --product "$target" >"$log" 2>&1; then
            bin="$("${build[@]}" --show-bin-path)/$target"
            if instrumented "$bin" "Corpus/$corpus"; then ok=yes; break; fi
            echo "stream fuzz smoke: $target built without coverage ($order); rebuilding from clean" >&2
            rm -rf "$scratch"
        else
            break
        fi
    done
    if [ "$ok" = yes ] &&
        "$bin" "$work" "Corpus/$corpus" \
            -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" >>"$log" 2>&1; then
        execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
        cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
        echo "stream fuzz smoke: $target ok, ${execs:-?} executions in ${seconds} s, ${cov:-cov: ?}"
    else
        echo "stream fuzz smoke: $target FAILED (build, no coverage, crash, hang or sanitizer report); last lines:" >&2
        grep -v 'Cannot export local symbol' "$log" | tail -40 >&2
        status=1
    fi
    rm -rf "$log" "$work"
done
exit $status
