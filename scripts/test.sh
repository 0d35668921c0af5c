#!/usr/bin/env bash
# THE test command: `bash scripts/test.sh` (as root on Debian 12 with Swift; CI runs it too).
#
# 1. installs what is missing (scripts/install-deps.sh),
# 2. builds gocheck (Go bbolt as a second reader) and proves it on ../shared/fixtures,
# 3. starts SeaweedFS, moto, nats-server and sshd on 127.0.0.1 (scripts/test-servers.sh) and
#    stops them on every exit, failure and interrupt included,
# 4. with CI=true, WITCHBOLT_GOCHECK, WITCHBOLT_FIXTURES and the servers' variables exported:
#    `swift build --build-tests`, then `swift test --parallel`,
# 5. runs every executable scripts/test.d/*.sh in name order,
# and prints a summary (each step: passed/failed/skipped, seconds). Exits non-zero if any
# step failed.
#
# Time limits (seconds, overridable): WITCHBOLT_BUILD_TIMEOUT (1800) for the build,
# WITCHBOLT_TEST_TIMEOUT (1200) for swift test, WITCHBOLT_STEP_TIMEOUT (900) for each test.d step.
# WITCHBOLT_SWIFT_TEST_ARGS adds arguments to `swift test` (e.g. `--filter Engine`); CI sets none.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
export LC_ALL=C

BUILD_TIMEOUT="${WITCHBOLT_BUILD_TIMEOUT:-1800}"
TEST_TIMEOUT="${WITCHBOLT_TEST_TIMEOUT:-1200}"
STEP_TIMEOUT="${WITCHBOLT_STEP_TIMEOUT:-900}"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/witchbolt-test.XXXXXX")"

NAMES=() RESULTS=() TIMES=()
STEP_PID=""
FAILED=0

# ---- servers and clean-up ------------------------------------------------------------------

# A run gets its own server directory unless the caller names one, so that two runs on one
# machine never share (or stop) each other's servers. Servers already running in a named
# directory before this run are left running.
if [[ -n "${WITCHBOLT_SERVERS_DIR:-}" ]]; then
    OWN_SERVERS_DIR=0
else
    export WITCHBOLT_SERVERS_DIR="$LOGDIR/servers"
    OWN_SERVERS_DIR=1
fi
STOP_SERVERS=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$STEP_PID" ]]; then
        kill -TERM "$STEP_PID" 2>/dev/null
        wait "$STEP_PID" 2>/dev/null
    fi
    if [[ $STOP_SERVERS -eq 1 ]]; then
        bash "$ROOT/scripts/test-servers.sh" stop >/dev/null 2>&1 ||
            echo "test.sh: warning: test-servers.sh stop failed for $WITCHBOLT_SERVERS_DIR" >&2
        [[ $OWN_SERVERS_DIR -eq 1 ]] && rm -f "$WITCHBOLT_SERVERS_DIR.lock"
    fi
    rm -rf "$LOGDIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "test.sh: interrupted"; exit 130' INT
trap 'echo "test.sh: terminated"; exit 143' TERM

# ---- steps ---------------------------------------------------------------------------------

# run_limited SECONDS CMD...: runs CMD in the background under a time limit and waits, so that
# an interrupt reaches the trap at once (and the trap ends CMD).
run_limited() {
    local limit="$1" rc
    shift
    timeout -k 30 "$limit" "$@" &
    STEP_PID=$!
    wait "$STEP_PID"
    rc=$?
    STEP_PID=""
    [[ $rc -eq 124 ]] && echo "test.sh: time limit of $limit s reached: $*"
    return "$rc"
}

# step NAME CMD...: runs one step, prints its banner, records passed/failed and seconds.
step() {
    local name="$1" began rc
    shift
    echo
    echo "==> $name"
    began=$(date +%s.%N)
    "$@"
    rc=$?
    NAMES+=("$name")
    TIMES+=("$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')")
    if [[ $rc -eq 0 ]]; then
        RESULTS+=("passed")
    else
        RESULTS+=("FAILED (exit $rc)")
        FAILED=1
    fi
    return "$rc"
}

skip() {
    NAMES+=("$1")
    RESULTS+=("skipped ($2)")
    TIMES+=("-")
}

start_servers() {
    local was_running=0
    [[ -f "$WITCHBOLT_SERVERS_DIR/env.sh" ]] && was_running=1
    [[ $was_running -eq 1 ]] || STOP_SERVERS=1
    bash "$ROOT/scripts/test-servers.sh" start || return 1
    # shellcheck disable=SC1091
    source "$WITCHBOLT_SERVERS_DIR/env.sh"
}

swift_test() {
    # The output goes to the terminal as it comes and to a log, whose closing lines the
    # summary repeats.
    local extra=()
    read -r -a extra <<<"${WITCHBOLT_SWIFT_TEST_ARGS:-}"
    run_limited "$TEST_TIMEOUT" bash -c 'set -o pipefail; log="$1"; shift; swift test --parallel "$@" 2>&1 | tee "$log"' \
        _ "$LOGDIR/swift-test.log" "${extra[@]}"
}

# ---- the run ---------------------------------------------------------------------------

# The whole run is one function, read in full before it starts, so that editing this file
# during a run cannot change the run.
main() {

    RUN_BEGAN=$(date +%s)

    if step "install-deps" bash scripts/install-deps.sh; then
        if step "gocheck build" bash scripts/build-gocheck.sh; then
            export WITCHBOLT_GOCHECK="$ROOT/.build-go/gocheck"
            step "gocheck fixture proof" bash scripts/check-gocheck.sh "$WITCHBOLT_GOCHECK"
        else
            skip "gocheck fixture proof" "no gocheck"
        fi
        if [[ -d "$ROOT/../shared/fixtures" ]]; then
            WITCHBOLT_FIXTURES="$(cd "$ROOT/../shared/fixtures" && pwd)"
            export WITCHBOLT_FIXTURES
        else
            echo "test.sh: $ROOT/../shared/fixtures is missing (../shared must sit beside the clone)" >&2
            NAMES+=("fixtures dir") RESULTS+=("FAILED (missing)") TIMES+=("-")
            FAILED=1
        fi
        export CI=true

        if step "test servers start" start_servers; then
            if step "swift build --build-tests" run_limited "$BUILD_TIMEOUT" swift build --build-tests; then
                step "swift test --parallel" swift_test

                # Later steps (fuzz and benchmark smoke runs), each an executable file, in name order.
                if [[ -d "$ROOT/scripts/test.d" ]]; then
                    for script in "$ROOT"/scripts/test.d/*.sh; do
                        [[ -f "$script" && -x "$script" ]] || continue
                        step "test.d/$(basename "$script")" run_limited "$STEP_TIMEOUT" "$script"
                    done
                fi
            else
                skip "swift test --parallel" "build failed"
            fi
        else
            skip "swift build and tests" "servers did not start"
        fi
    else
        skip "everything else" "install-deps failed"
    fi

    # ---- summary -------------------------------------------------------------------------------

    echo
    if [[ -s "$LOGDIR/swift-test.log" ]]; then
        echo "==> swift test, closing lines"
        tail -n 3 "$LOGDIR/swift-test.log"
        echo
    fi
    echo "==> summary ($(($(date +%s) - RUN_BEGAN)) s)"
    for i in "${!NAMES[@]}"; do
        printf '  %-34s %-18s %6s s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
    done
    if [[ $FAILED -ne 0 ]]; then
        echo "test.sh: FAILED"
        exit 1
    fi
    echo "test.sh: all steps passed"
}

main "$@"
exit $?
