#!/usr/bin/env bash
# Installs what pageflow needs on a fresh machine, skipping what is already there.
# Today: the Rust toolchain's components used by the tests. The browser issue adds the wasm
# target, trunk, wasm-bindgen-cli, binaryen and Chromium here.
set -euo pipefail

need_component() {
  rustup component list --installed 2>/dev/null | grep -q "^$1" || rustup component add "$1"
}

command -v cargo >/dev/null || { echo "setup: cargo is missing; install Rust with rustup first" >&2; exit 1; }
need_component clippy
need_component rustfmt
