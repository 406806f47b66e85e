#!/usr/bin/env bash
# Retakes docs/web.png: brings up examples/fake.toml (ping and pong rally on the fake
# backend) on a private tmux server and registry, sends a broadcast as the operator,
# serves `cafleet web`, and photographs the fleet page with headless Chromium.
#
#   cargo build && docs/web-screenshot.sh [path/to/cafleet]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug/cafleet}")
command -v chromium >/dev/null || { echo "error: chromium is not installed" >&2; echo "hint: apt-get install -y chromium" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cfw-XXXXXX)
export CAFLEET_DATABASE_URL=$tmp/cafleet.db CAFLEET_TMUX_SOCKET=$tmp/tmux
web=
cleanup() {
    [[ -n $web ]] && kill "$web" 2>/dev/null
    "$bin" down --fleet demo >/dev/null 2>&1 || true
    tmux -S "$tmp/tmux" kill-server 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" up examples/fake.toml --wait --timeout 30s >/dev/null
# Let the rally get going: poll until a few messages are stored (no fixed sleep).
for _ in $(seq 200); do
    n=$("$bin" --db "$CAFLEET_DATABASE_URL" message list --as ping --json 2>/dev/null | grep -c '"id"' || true)
    (( n >= 6 )) && break
    sleep 0.1
done
"$bin" message send --as director --to ping "Status? Reply with <b>one</b> line." >/dev/null

"$bin" web --port 0 >"$tmp/url" &
web=$!
for _ in $(seq 100); do grep -q http "$tmp/url" 2>/dev/null && break; sleep 0.05; done
url=$(grep -o 'http://[^ ]*' "$tmp/url")
curl -sf -H 'Content-Type: application/json' -d '{"body":"Wrap up in five minutes, please."}' \
    "${url}api/fleets/demo/broadcast" >/dev/null

chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --hide-scrollbars \
    --screenshot=docs/web.png --window-size=1280,800 "${url}#/fleet/demo" 2>"$tmp/chromium.log" \
    || { cat "$tmp/chromium.log" >&2; exit 1; }
echo "wrote docs/web.png"
