#!/usr/bin/env bash
# Every test: formatting, lints, unit and integration tests (property tests included), golden
# CLI tests. Benchmarks are not tests: run them with `cargo bench -p pageflow-core`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
