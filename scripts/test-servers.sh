#!/usr/bin/env bash
# Starts and stops the servers the integration tests talk to, all on 127.0.0.1, each on a
# free port picked at start:
#   - SeaweedFS `weed mini` (S3, SigV4 with a random key, bucket created),
#   - moto_server with SigV4 enforced (IAM user and key made with its first unauthenticated calls),
#   - nats-server with JetStream (object store bucket provisioned with nats-py),
#   - OpenSSH sshd with internal-sftp (ed25519 host and user keys, known_hosts, a writable root).
#
#   test-servers.sh start   starts them (a no-op when already running); prints where env.sh is
#   test-servers.sh env     prints env.sh: `export` lines that configure the tests
#   test-servers.sh check   talks to each server once (S3 round trips, NATS object store, sftp put/get)
#   test-servers.sh stop    stops each by its recorded PID (TERM, then KILL), removes the state
#
# State (keys, configs, data, logs, PIDs, env.sh) lives in ${WITCHBOLT_SERVERS_DIR:-/tmp/witchbolt-test-servers}.
# A server not ready within ${WITCHBOLT_SERVERS_TIMEOUT:-20} s fails `start` with its log's tail.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${WITCHBOLT_SERVERS_DIR:-/tmp/witchbolt-test-servers}"
DIR="${DIR%/}"
TIMEOUT="${WITCHBOLT_SERVERS_TIMEOUT:-20}"
HELPER="$ROOT/scripts/provision-servers.py"
MARKER="$DIR/.witchbolt-test-servers"
SERVERS=(seaweedfs moto nats sshd)
S3_BUCKET=witchbolt-test
MOTO_BUCKET=witchbolt-moto
NATS_BUCKET=witchbolt-test

say() { echo "test-servers: $*"; }
die() { echo "test-servers: $*" >&2; exit 1; }

# The python3 on PATH, resolved once to its real executable (a pyenv shim costs time per call).
command -v python3 >/dev/null || die "python3 not on PATH (run scripts/install-deps.sh)"
read -r PY PY_SCRIPTS < <(python3 -c 'import sys, sysconfig; print(sys.executable, sysconfig.get_path("scripts"))')

# find_tool NAME: the executable from python's scripts dir (where pip puts it), else from PATH.
find_tool() {
    if [[ -x "$PY_SCRIPTS/$1" ]]; then
        echo "$PY_SCRIPTS/$1"
    else
        command -v "$1" || die "$1 not found in $PY_SCRIPTS or on PATH (run scripts/install-deps.sh)"
    fi
}

# ---- processes -----------------------------------------------------------------------------

# start_time PID: the kernel's start time of PID (field 22 of /proc/PID/stat), to tell a
# recorded server from an unrelated process that reused its PID.
start_time() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    awk '{print $20}' <<<"$stat"
}

# recorded_alive NAME: true when NAME's recorded process still runs.
recorded_alive() {
    local pid started
    [[ -f "$DIR/$1.pid" ]] || return 1
    read -r pid started <"$DIR/$1.pid"
    [[ "$(start_time "$pid" 2>/dev/null)" == "$started" ]]
}

# launch NAME CMD...: starts CMD in its own session (process group = its PID) in $DIR, with
# stdout and stderr in $DIR/NAME.log, and records "PID STARTTIME" in $DIR/NAME.pid. The
# server does not inherit the lock's descriptor 9 (it would hold the lock for its life).
launch() {
    local name="$1"
    shift
    (cd "$DIR" && exec setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null 9>&-) &
    local pid=$!
    echo "$pid $(start_time "$pid")" >"$DIR/$name.pid"
}

# descendants PID: every process below PID, depth first.
descendants() {
    local child
    for child in $(pgrep -P "$1" || true); do
        echo "$child"
        descendants "$child"
    done
}

# stop_all: SIGTERM to every recorded server, its process group and its descendants (sshd's
# per-connection children); SIGKILL to whatever still runs after 15 s; then remove the state.
stop_all() {
    local name pid started victims=() below p
    for name in "${SERVERS[@]}"; do
        recorded_alive "$name" || continue
        read -r pid started <"$DIR/$name.pid"
        mapfile -t below < <(descendants "$pid")
        victims+=("$pid" "${below[@]}")
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for p in "${victims[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    local deadline=$((SECONDS + 15)) left
    while :; do
        left=()
        for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
        [[ ${#left[@]} -eq 0 || $SECONDS -ge $deadline ]] && break
        sleep 0.2
    done
    if [[ ${#left[@]} -gt 0 ]]; then
        say "SIGKILL to ${left[*]} (no exit within 15 s of SIGTERM)"
        for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        sleep 0.5
    fi
    # Remove the state only when it is ours (the marker), never an arbitrary directory.
    if [[ -f "$MARKER" ]]; then
        rm -rf "$DIR"
    fi
}

# fail_start NAME WHY: reports a server that did not come up, with its log, and cleans up.
fail_start() {
    trap - EXIT
    echo "test-servers: FAILED: $1: $2" >&2
    if [[ -f "$DIR/$1.log" ]]; then
        echo "---- last lines of $DIR/$1.log ----" >&2
        tail -n 40 "$DIR/$1.log" >&2
        echo "----" >&2
    fi
    stop_all
    exit 1
}

# wait_ready NAME WHAT PROBE...: polls PROBE every 0.1 s until it succeeds; fails when the
# server exits or the timeout passes. WHAT names the probe in messages (PROBE may hold a secret).
wait_ready() {
    local name="$1" what="$2" deadline=$((SECONDS + TIMEOUT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        recorded_alive "$name" || fail_start "$name" "the process exited during start"
        [[ $SECONDS -lt $deadline ]] || fail_start "$name" "not ready within $TIMEOUT s (probe: $what)"
        sleep 0.1
    done
}

# ---- start ---------------------------------------------------------------------------------

# stop_after_failed_start: the EXIT trap while starting; stops what was started on an error.
stop_after_failed_start() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "test-servers: start failed (exit $rc); stopping" >&2
        stop_all
    fi
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start() {
    # Already running: keep it.
    local name all=1
    for name in "${SERVERS[@]}"; do recorded_alive "$name" || all=0; done
    if [[ $all -eq 1 && -f "$DIR/env.sh" ]]; then
        say "already started; env: $DIR/env.sh"
        return 0
    fi
    # Half-started or stale state of ours: clear it. Someone else's directory: refuse.
    if [[ -f "$MARKER" ]]; then
        say "clearing stale state in $DIR"
        stop_all
    elif [[ -d "$DIR" && -n "$(ls -A "$DIR")" ]]; then
        die "$DIR exists, is not empty and was not made by this script; set WITCHBOLT_SERVERS_DIR"
    fi
    mkdir -p "$DIR"
    touch "$MARKER"
    local began=$SECONDS

    # Any unexpected error from here on stops what was started.
    trap stop_after_failed_start EXIT

    # Pick every port at once, so that they are distinct.
    local ports
    mapfile -t ports < <("$PY" "$HELPER" free-ports 14)
    [[ ${#ports[@]} -eq 14 ]] || die "could not pick free ports"
    local s3_port=${ports[0]} master_port=${ports[1]} volume_port=${ports[2]} filer_port=${ports[3]}
    local s3_grpc=${ports[4]} master_grpc=${ports[5]} volume_grpc=${ports[6]} filer_grpc=${ports[7]}
    local admin_port=${ports[8]} admin_grpc=${ports[9]}
    local moto_port=${ports[10]} nats_port=${ports[11]} nats_monitor=${ports[12]} ssh_port=${ports[13]}

    # SeaweedFS: one identity with a random key, every listener on loopback and on our ports.
    local weed_bin s3_key s3_secret
    weed_bin="$(find_tool weed)"
    s3_key="WB$(random_hex 9 | tr a-f A-F)"
    s3_secret="$(random_hex 20)"
    mkdir -p "$DIR/seaweedfs/data"
    (umask 077 && printf '{"identities":[{"name":"witchbolt-test","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
        "$s3_key" "$s3_secret" >"$DIR/seaweedfs/identities.json")
    launch seaweedfs "$weed_bin" mini -dir="$DIR/seaweedfs/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$master_port" -master.port.grpc="$master_grpc" \
        -volume.port="$volume_port" -volume.port.grpc="$volume_grpc" \
        -filer.port="$filer_port" -filer.port.grpc="$filer_grpc" \
        -s3.port="$s3_port" -s3.port.grpc="$s3_grpc" \
        -admin.port="$admin_port" -admin.port.grpc="$admin_grpc" -admin.ui=false \
        -s3.config="$DIR/seaweedfs/identities.json" -webdav=false \
        -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
        -s3.localSocket="$DIR/seaweedfs/s3.sock" -filer.localSocket="$DIR/seaweedfs/filer.sock"

    # moto: signatures are checked after the first three (provisioning) calls.
    launch moto env INITIAL_NO_AUTH_ACTION_COUNT=3 "$(find_tool moto_server)" -H 127.0.0.1 -p "$moto_port"

    # nats-server with JetStream, its store in $DIR.
    command -v nats-server >/dev/null || die "nats-server not on PATH (run scripts/install-deps.sh)"
    mkdir -p "$DIR/nats/store"
    launch nats nats-server -js -a 127.0.0.1 -p "$nats_port" -m "$nats_monitor" -sd "$DIR/nats/store"

    # sshd: fresh ed25519 host and user keys, the user key authorized, a known_hosts line.
    local ssh="$DIR/ssh"
    mkdir -p "$ssh" "$DIR/sftp-root" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C witchbolt-test-host -f "$ssh/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C witchbolt-test-user -f "$ssh/id_ed25519"
    chmod 600 "$ssh/host_ed25519" "$ssh/id_ed25519"
    cp "$ssh/id_ed25519.pub" "$ssh/authorized_keys"
    echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$ssh/host_ed25519.pub")" >"$ssh/known_hosts"
    cat >"$ssh/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $ssh_port
HostKey $ssh/host_ed25519
PidFile $ssh/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxStartups 200
MaxSessions 200
Subsystem sftp internal-sftp
CFG
    /usr/sbin/sshd -t -f "$ssh/sshd_config" || fail_start sshd "sshd -t rejected $ssh/sshd_config"
    launch sshd /usr/sbin/sshd -D -e -f "$ssh/sshd_config"

    # Wait for each, then provision what it serves.
    wait_ready seaweedfs "signed GET / on the S3 port" curl -sf -o /dev/null --max-time 2 --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$s3_key:$s3_secret" "http://127.0.0.1:$s3_port/"
    "$PY" "$HELPER" s3-bucket "http://127.0.0.1:$s3_port" "$s3_key" "$s3_secret" "$S3_BUCKET" >/dev/null ||
        fail_start seaweedfs "could not create bucket $S3_BUCKET"

    wait_ready moto "GET /moto-api/data.json" curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$moto_port/moto-api/data.json"
    local moto_creds moto_key moto_secret
    moto_creds="$("$PY" "$HELPER" moto-provision "http://127.0.0.1:$moto_port" "$MOTO_BUCKET")" ||
        fail_start moto "could not provision the IAM user, key and bucket $MOTO_BUCKET"
    read -r moto_key moto_secret <<<"$moto_creds"

    wait_ready nats "GET /healthz?js-enabled-only=true" curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$nats_monitor/healthz?js-enabled-only=true"
    "$PY" "$HELPER" nats-objstore "nats://127.0.0.1:$nats_port" "$NATS_BUCKET" >/dev/null ||
        fail_start nats "could not create the object store $NATS_BUCKET"

    local host_key
    host_key="$(cut -d' ' -f2 "$ssh/host_ed25519.pub")"
    wait_ready sshd "ssh-keyscan sees our host key" bash -c "ssh-keyscan -T 2 -t ed25519 -p $ssh_port 127.0.0.1 2>/dev/null | grep -qF '$host_key'"

    # env.sh: exactly the variables the tests read, written whole or not at all.
    {
        echo "# Written by scripts/test-servers.sh start; source it to configure the tests."
        printf 'export %s=%q\n' \
            WITCHBOLT_S3_ENDPOINT "http://127.0.0.1:$s3_port" \
            WITCHBOLT_S3_REGION us-east-1 \
            WITCHBOLT_S3_BUCKET "$S3_BUCKET" \
            WITCHBOLT_S3_ACCESS_KEY_ID "$s3_key" \
            WITCHBOLT_S3_SECRET_ACCESS_KEY "$s3_secret" \
            AWS_ACCESS_KEY_ID "$s3_key" \
            AWS_SECRET_ACCESS_KEY "$s3_secret" \
            AWS_REGION us-east-1 \
            WITCHBOLT_MOTO_ENDPOINT "http://127.0.0.1:$moto_port" \
            WITCHBOLT_MOTO_BUCKET "$MOTO_BUCKET" \
            WITCHBOLT_MOTO_ACCESS_KEY_ID "$moto_key" \
            WITCHBOLT_MOTO_SECRET_ACCESS_KEY "$moto_secret" \
            WITCHBOLT_NATS_URL "nats://127.0.0.1:$nats_port" \
            WITCHBOLT_NATS_BUCKET "$NATS_BUCKET" \
            WITCHBOLT_NATS_MONITOR_URL "http://127.0.0.1:$nats_monitor" \
            WITCHBOLT_SFTP_HOST 127.0.0.1 \
            WITCHBOLT_SFTP_PORT "$ssh_port" \
            WITCHBOLT_SFTP_USER "$(id -un)" \
            WITCHBOLT_SFTP_KEY "$ssh/id_ed25519" \
            WITCHBOLT_SFTP_KNOWN_HOSTS "$ssh/known_hosts" \
            WITCHBOLT_SFTP_ROOT "$DIR/sftp-root" \
            WITCHBOLT_WEED_BIN "$weed_bin"
    } >"$DIR/env.sh.tmp"
    mv "$DIR/env.sh.tmp" "$DIR/env.sh"
    trap - EXIT
    say "started in $((SECONDS - began)) s: SeaweedFS S3 :$s3_port, moto :$moto_port," \
        "nats :$nats_port (monitor :$nats_monitor), sshd :$ssh_port"
    say "env: $DIR/env.sh"
}

# ---- check ---------------------------------------------------------------------------------

# check: one real exchange with each server, through the variables of env.sh.
check() {
    [[ -f "$DIR/env.sh" ]] || die "not started (no $DIR/env.sh)"
    # shellcheck disable=SC1091
    source "$DIR/env.sh"
    "$PY" "$HELPER" s3-check "$WITCHBOLT_S3_ENDPOINT" "$WITCHBOLT_S3_ACCESS_KEY_ID" \
        "$WITCHBOLT_S3_SECRET_ACCESS_KEY" "$WITCHBOLT_S3_BUCKET"
    "$PY" "$HELPER" s3-check "$WITCHBOLT_MOTO_ENDPOINT" "$WITCHBOLT_MOTO_ACCESS_KEY_ID" \
        "$WITCHBOLT_MOTO_SECRET_ACCESS_KEY" "$WITCHBOLT_MOTO_BUCKET"
    curl -sf --max-time 5 "$WITCHBOLT_NATS_MONITOR_URL/healthz?js-enabled-only=true" >/dev/null
    "$PY" "$HELPER" nats-check "$WITCHBOLT_NATS_URL" "$WITCHBOLT_NATS_BUCKET"

    # sftp with the generated key, verifying the host key against known_hosts.
    local tmp
    tmp="$(mktemp -d)"
    head -c 300000 /dev/urandom >"$tmp/up.bin"
    printf 'put %s %s/check.bin\nget %s/check.bin %s\nrm %s/check.bin\n' \
        "$tmp/up.bin" "$WITCHBOLT_SFTP_ROOT" "$WITCHBOLT_SFTP_ROOT" "$tmp/down.bin" "$WITCHBOLT_SFTP_ROOT" >"$tmp/batch"
    if ! sftp -q -b "$tmp/batch" -i "$WITCHBOLT_SFTP_KEY" -P "$WITCHBOLT_SFTP_PORT" \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$WITCHBOLT_SFTP_KNOWN_HOSTS" \
        -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
        "$WITCHBOLT_SFTP_USER@$WITCHBOLT_SFTP_HOST" >"$tmp/out" 2>&1 || ! cmp -s "$tmp/up.bin" "$tmp/down.bin"; then
        cat "$tmp/out" >&2
        rm -rf "$tmp"
        die "sftp put/get round trip failed"
    fi
    rm -rf "$tmp"
    say "sftp://$WITCHBOLT_SFTP_HOST:$WITCHBOLT_SFTP_PORT: put/get 300000 bytes identical, host key verified"
    say "check: all servers answer"
}

# ---- main ----------------------------------------------------------------------------------

cmd="${1:-}"
case "$cmd" in
    start | stop | env | check) ;;
    *) echo "usage: $0 start|stop|env|check" >&2; exit 2 ;;
esac

# One start or stop at a time per state directory.
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock -w 120 9 || die "another test-servers.sh holds $DIR.lock"

case "$cmd" in
    start) start ;;
    stop)
        stop_all
        say "stopped; state removed"
        ;;
    env)
        [[ -f "$DIR/env.sh" ]] || die "not started (no $DIR/env.sh)"
        cat "$DIR/env.sh"
        ;;
    check) check ;;
esac
