#!/usr/bin/env bash
# Sets up whatever is missing, builds the demo page and the server in release mode, and
# runs the server with the page at http://127.0.0.1:3000/ (flags are passed on to the
# server; see `diffy-server --help`).

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SETUP_WEB_SKIP_BROWSER=1 eval "$(SETUP_WEB_SKIP_BROWSER=1 scripts/setup-web.sh)"
trunk build --release --offline >&2
cargo build --release --locked -p diffy-server >&2

# The address to print: the last --listen given, as the server reads its flags.
listen="${DIFFY_LISTEN:-127.0.0.1:3000}"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --listen=*) listen="${args[i]#--listen=}" ;;
        --listen) if ((i + 1 < ${#args[@]})); then listen="${args[i + 1]}"; fi ;;
    esac
done
printf '\nOpen http://%s/?pr=123&user=alice (and ?pr=123&user=bob in another window)\n\n' "$listen" >&2
exec target/release/diffy-server --static-dir "$root/dist" "$@"
