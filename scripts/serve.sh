#!/usr/bin/env bash
# Builds the playground and serves it on http://127.0.0.1:${PORT:-8361}/ (installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/e2e/node_modules/.bin:$PATH"
exec trunk serve --release --offline --address 127.0.0.1 --port "${PORT:-8361}"
