#!/usr/bin/env bash
# Installs what the widget build and its browser tests need, skipping each step that is already
# done: the wasm32 target, Trunk, the wasm-bindgen CLI matching Cargo.lock, wasm-opt (npm
# `binaryen`, into tools/web), Debian's chromium, and the browser tests' npm packages.
#
# Its standard output is one `export PATH=...` line (logs go to stderr), so other scripts can
# run `eval "$(scripts/setup-web.sh)"` to get wasm-opt, trunk and wasm-bindgen on PATH.
# Set SETUP_WEB_SKIP_BROWSER=1 to skip the chromium and npm test steps (build only).

set -euo pipefail

# Everything but the final PATH line goes to stderr, whatever the installers print (apt-get
# writes its progress to stdout): fd 3 keeps the caller's stdout for that one line.
exec 3>&1 1>&2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools/web"
binaryen_version="132.0.0"
trunk_version="~0.21"

export PATH="$tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf 'setup-web: %s\n' "$*" >&2; }

# The wasm-bindgen CLI must match the library version the lock file pins exactly.
wasm_bindgen_version() {
    if [[ ! -f "$root/Cargo.lock" ]]; then
        (cd "$root" && cargo generate-lockfile --quiet)
    fi
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' \
        "$root/Cargo.lock"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
    log "installing trunk $trunk_version (several minutes)"
    cargo install trunk --version "$trunk_version" --locked
fi

wb_version="$(wasm_bindgen_version)"
if [[ -z "$wb_version" ]]; then
    log "Cargo.lock pins no wasm-bindgen; is the widget a workspace member?"
    exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb_version"; then
    log "installing wasm-bindgen-cli $wb_version"
    cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

if ! "$tools/node_modules/.bin/wasm-opt" --version >/dev/null 2>&1; then
    log "installing wasm-opt (npm binaryen $binaryen_version) into tools/web"
    mkdir -p "$tools"
    if [[ ! -f "$tools/package.json" ]]; then
        printf '{ "private": true, "dependencies": { "binaryen": "%s" } }\n' \
            "$binaryen_version" >"$tools/package.json"
    fi
    (cd "$tools" && npm install --no-audit --no-fund --silent)
fi

if [[ "${SETUP_WEB_SKIP_BROWSER:-0}" != 1 ]]; then
    if [[ ! -x /usr/bin/chromium ]]; then
        log "installing chromium from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    fi

    browser_tests="$root/tests/browser"
    if [[ -f "$browser_tests/package-lock.json" ]] && \
        ! (cd "$browser_tests" && npm ls --silent >/dev/null 2>&1); then
        log "installing the browser tests' npm packages"
        (cd "$browser_tests" && npm ci --no-audit --no-fund --silent)
    fi
fi

log "ready; for other shells run:"
printf 'export PATH="%s:%s:$PATH"\n' "$tools/node_modules/.bin" "${CARGO_HOME:-$HOME/.cargo}/bin" >&3
