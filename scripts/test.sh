#!/usr/bin/env bash
# Sets up whatever is missing, then runs every check and test: formatting, lints, the
# Rust unit and integration tests, the Socket.IO JavaScript client suite, and the widget
# in headless Chromium. Stops at the first failure.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
step() { printf '\n==> %s\n' "$*"; }

step "setting up"
eval "$(scripts/setup.sh)"

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the server"
cargo build --locked -p diffy-server
export DIFFY_SERVER_BIN="$root/target/debug/diffy-server"

step "Rust unit and integration tests"
cargo test --workspace --locked

step "Socket.IO JavaScript client suite"
(cd tests/node && npm test)

step "building the demo page"
trunk build --release --offline

step "widget in headless Chromium"
(cd tests/browser && npm test)
