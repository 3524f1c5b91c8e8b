#!/usr/bin/env bash
# Installs whatever the project needs and is missing, skipping each step already done:
# the Rust components, the Node test suite's packages, and (through setup-web.sh) the
# widget toolchain and the browser. Safe to run again and again.
#
# Its standard output is one `export PATH=...` line (logs go to stderr), so other scripts
# run `eval "$(scripts/setup.sh)"`.

set -euo pipefail

# Installers print to stdout; only setup-web.sh's PATH line may reach the caller's (fd 3).
exec 3>&1 1>&2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'setup: %s\n' "$*" >&2; }

for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$component"; then
        log "adding the $component component"
        rustup component add "$component" >&2
    fi
done

if ! (cd "$root/tests/node" && npm ls --silent >/dev/null 2>&1); then
    log "installing the Node test suite's packages"
    (cd "$root/tests/node" && npm ci --no-audit --no-fund --silent) >&2
fi

"$root/scripts/setup-web.sh" >&3
