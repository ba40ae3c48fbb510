#!/usr/bin/env bash
# The main job: run the default scenario (or the scenario files given) and print the report.
# The browser issue turns this into "build and serve the playground".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --quiet --release -p pageflow-cli -- run "$@"
