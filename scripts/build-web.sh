#!/usr/bin/env bash
# Builds the playground into dist/ with trunk, offline: every tool is already installed by
# scripts/setup.sh (wasm-opt from npm binaryen, first on PATH). The output uses relative paths,
# so it works from any static host and subpath.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/e2e/node_modules/.bin:$PATH"
trunk build --release --offline "$@"
ls -l dist/*.wasm dist/*.js | awk '{ print "build-web: " $5 " bytes  " $9 }'
