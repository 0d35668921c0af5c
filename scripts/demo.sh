#!/usr/bin/env bash
# THE main-job command: `bash scripts/demo.sh [args]` (as root on Debian 12 with Swift).
# Installs the C libraries the build needs (scripts/install-deps.sh --runtime-only), builds
# the `witchbolt` command in release mode, and runs `witchbolt demo [args]`: a database
# replicated to a local file replica.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install-deps.sh --runtime-only
echo "demo.sh: swift build -c release --product witchbolt"
swift build -c release --product witchbolt
exec "$ROOT/.build/release/witchbolt" demo "$@"
