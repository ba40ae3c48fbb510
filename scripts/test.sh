#!/usr/bin/env bash
# Every test: formatting, lints (native and wasm), unit, integration, property and CLI golden
# tests, then the playground's release build and its browser tests in Debian's Chromium.
# Benchmarks are not tests: `cargo bench -p pageflow-core`, `node e2e/bench.mjs`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p pageflow-web --target wasm32-unknown-unknown --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== playground release build"
scripts/build-web.sh
echo "== browser tests (Chromium)"
(cd e2e && node --test --test-concurrency=1 tests/)
