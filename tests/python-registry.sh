#!/usr/bin/env bash
# Makes a genuine Python cafleet 0.22 registry at OUT (an absolute path) with the real
# tool: a fleet whose Director messages two members, a reply, an acknowledged message, a
# broadcast and a deleted member, then a second fleet that is deleted.
# tests/python_import.rs runs it.
#
#   tests/python-registry.sh PYTHON_CAFLEET_BIN OUT.db
#
# Offline as the design notes say: private HOME, `cafleet setup` (whose asset download
# fails here) then the asset_installs rows by hand, stand-in claude/codex/opencode
# executables first on PATH, and the commands that need tmux run in a window of a private
# tmux server, which is killed at exit. Nothing outside a temporary folder and OUT is
# written.
set -euo pipefail

PYCF=$1
OUT=$2
PY=$(dirname "$PYCF")/python
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cafleet-pyreg-XXXXXX")
SOCK=$TMP/tmux.sock
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

unset TMUX TMUX_PANE CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_TMUX_SOCKET
export HOME=$TMP/home XDG_DATA_HOME=$TMP/home/.local/share XDG_CONFIG_HOME=$TMP/home/.config
mkdir -p "$HOME/.opencode/agents" "$TMP/bin"
echo "stand-in" >"$HOME/.opencode/agents/cafleet.md"
for agent in claude codex opencode; do
    printf '#!/bin/sh\nexec cat >/dev/null\n' >"$TMP/bin/$agent"
    chmod +x "$TMP/bin/$agent"
done
export PATH=$TMP/bin:$PATH
export CAFLEET_DATABASE_URL=sqlite:///$OUT
cd "$TMP"

"$PYCF" setup >"$TMP/setup.log" 2>&1 || true # the database half succeeds offline
"$PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT OR REPLACE INTO asset_installs VALUES (?, ?, datetime(?))",
               [(a, "0.22.0", "now") for a in ("claude", "codex", "opencode")])
db.commit()
' "$OUT"

# The Director's pane runs this: fleet create and member create need tmux.
cat >"$TMP/director.sh" <<'SCRIPT'
set -eu
j() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
"$PYCF" fleet create --name pyteam --coding-agent claude --json >fleet.json
FID=$(j fleet.json 'd["fleet_id"]')
DIR=$(j fleet.json 'd["director"]["member_id"]')
for m in alice bob; do
    "$PYCF" member create --fleet-id "$FID" --name "$m" --description "the $m member" \
        --coding-agent claude --text "you are $m" --json >"$m.json"
done
A=$(j alice.json 'd["member_id"]')
B=$(j bob.json 'd["member_id"]')
M1=$("$PYCF" message send --fleet-id "$FID" --from-member-id "$DIR" --to-member-id "$A" \
    --text "hello alice" --quiet)
"$PYCF" message send --fleet-id "$FID" --from-member-id "$A" --to-member-id "$DIR" \
    --text "done: 42" >/dev/null
"$PYCF" message ack --fleet-id "$FID" --member-id "$A" \
    --message-id "$M1" >/dev/null
"$PYCF" message broadcast --fleet-id "$FID" --from-member-id "$DIR" --text "all hands" >/dev/null
"$PYCF" member delete --fleet-id "$FID" --member-id "$B" >/dev/null
echo ok >director.done
SCRIPT
tmux -S "$SOCK" -f /dev/null new-session -d -s py -x 200 -y 50 -c "$TMP" \
    "PY='$PY' PYCF='$PYCF' bash director.sh >director.out 2>director.err || echo failed >director.done; sleep 600"
for _ in $(seq 1200); do [[ -e $TMP/director.done ]] && break; sleep 0.1; done
if [[ $(cat "$TMP/director.done" 2>/dev/null) != ok ]]; then
    echo "error: the Python registry could not be made:" >&2
    cat "$TMP/setup.log" "$TMP/director.out" "$TMP/director.err" >&2 || true
    exit 1
fi
