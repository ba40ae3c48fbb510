#!/usr/bin/env bash
# Installs what pageflow needs on a fresh machine, skipping what is already there at the right
# version, so a second run takes seconds: the Rust components the tests use, the wasm target,
# trunk, wasm-bindgen-cli (the version in Cargo.lock), npm packages for the browser tests and
# wasm-opt (binaryen from npm: Debian's is too old for current wasm-bindgen output), and Debian's
# Chromium with its driver.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14

say() { echo "setup: $*" >&2; }

need_component() {
  rustup component list --installed 2>/dev/null | grep -q "^$1" || rustup component add "$1"
}

command -v cargo >/dev/null || { say "cargo is missing; install Rust with rustup first"; exit 1; }
need_component clippy
need_component rustfmt
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The one version of wasm-bindgen: the lock file's. The CLI must match it exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

if ! trunk --version 2>/dev/null | grep -qx "trunk $TRUNK_VERSION"; then
  say "installing trunk $TRUNK_VERSION (about 17 minutes on two cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "^wasm-bindgen $WASM_BINDGEN_VERSION\b"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # No --locked: the CLI's own lock file names a yanked transitive version.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing Debian's chromium and chromium-driver"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi

# playwright-core and binaryen, as e2e/package-lock.json pins them.
if [ ! -f e2e/node_modules/.package-lock.json ] || ! cmp -s e2e/package-lock.json e2e/node_modules/.lock-copy; then
  say "installing npm packages in e2e/"
  (cd e2e && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.lock-copy)
fi
