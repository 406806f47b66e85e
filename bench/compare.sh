#!/usr/bin/env bash
# Side-by-side: the original Python cafleet 0.22 (PyPI) vs the cafleet built here, the
# same registry calls in the same run, alternating A/B. See docs/benchmarks.md.
#
#   bench/compare.sh                       # 20 runs a registry call, 10 a live-pane send
#   BENCH_RUNS=10 BENCH_LIVE_RUNS=5 bench/compare.sh
#   BENCH_NO_BUILD=1 bench/compare.sh      # skip `cargo build --release`
#
# The Python tool is installed into bench/.venv (gitignored) with pyenv's Python 3.12 and
# set up offline as in the design notes: private HOME, its own SQLite file, `cafleet
# setup` (whose asset download fails here) then the asset_installs rows by hand, stand-in
# claude/codex/opencode executables first on PATH, and `fleet create` / `member create`
# run inside a window of a private tmux server. Nothing outside $TMP and bench/.venv is
# written; both private tmux servers are killed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-20}
LIVE_RUNS=${BENCH_LIVE_RUNS:-10}
M="python3 $ROOT/bench/lib/measure.py"
VENV=$ROOT/bench/.venv
PYCF=$VENV/bin/cafleet

# --- the Python original -------------------------------------------------------------
if ! [[ -x $PYCF ]] || ! "$VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("cafleet") == "0.22.0"' 2>/dev/null; then
    PY312=""
    if command -v pyenv >/dev/null; then
        PY312=$(ls -d "$(pyenv root)"/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    fi
    [[ -n $PY312 ]] || PY312=$(command -v python3.12 || true)
    [[ -n $PY312 ]] || { echo "error: no Python 3.12 (pyenv versions / python3.12)" >&2; exit 1; }
    echo "installing cafleet==0.22.0 into $VENV with $PY312" >&2
    rm -rf "$VENV"
    "$PY312" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check cafleet==0.22.0
fi

# --- the Rust binary -------------------------------------------------------------------
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "building: cargo build --release" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi
BIN=${CAFLEET_BIN:-$ROOT/target/release/cafleet}
[[ -x $BIN ]] || { echo "error: $BIN not found" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cfb-XXXX)
PYSOCK=$TMP/ps   # the Python tool's private tmux server
RSSOCK=$TMP/rs   # cafleet's private tmux server
cleanup() {
    tmux -S "$PYSOCK" kill-server 2>/dev/null || true
    tmux -S "$RSSOCK" kill-server 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unset TMUX TMUX_PANE CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_DATABASE_URL CAFLEET_TMUX_SOCKET
export HOME=$TMP/home XDG_DATA_HOME=$TMP/home/.local/share
mkdir -p "$HOME/.opencode/agents" "$TMP/bin"
echo "stand-in for the cafleet opencode agent (benchmark)" >"$HOME/.opencode/agents/cafleet.md"
for agent in claude codex opencode; do
    # A stand-in agent: prints one line, then reads (and drops) whatever is typed.
    printf '#!/bin/sh\necho "stand-in %s $*"\nexec cat >/dev/null\n' "$agent" >"$TMP/bin/$agent"
    chmod +x "$TMP/bin/$agent"
done
export PATH=$TMP/bin:$PATH
cd "$TMP"

PYDB=$TMP/py.db
export CAFLEET_DATABASE_URL=sqlite:///$PYDB   # absolute path: four slashes in all

"$PYCF" setup >"$TMP/setup.log" 2>&1 || true   # the database half succeeds; assets fail offline
sqlite3 "$PYDB" "INSERT OR REPLACE INTO asset_installs VALUES ('claude','0.22.0',datetime('now')),('codex','0.22.0',datetime('now')),('opencode','0.22.0',datetime('now'));"

# fleet create / member create must run inside tmux: do it in the Director's pane of a
# private server. m1 sends, m2's pane is then killed (a member with no live pane), m3
# stays live (the target of the live-pane send).
cat >"$TMP/director.sh" <<EOF
set -e
"$PYCF" fleet create --name bench --coding-agent claude --json >"$TMP/fleet.json"
FID=\$(python3 -c 'import json; print(json.load(open("$TMP/fleet.json"))["fleet_id"])')
for m in m1 m2 m3; do
    "$PYCF" member create --fleet-id "\$FID" --name \$m --description bench \
        --coding-agent claude --text "benchmark member" --json >"$TMP/\$m.json"
done
echo ok >"$TMP/director.done"
exec sleep 86400
EOF
tmux -S "$PYSOCK" -f /dev/null new-session -d -s py -x 200 -y 50 \
    "bash $TMP/director.sh 2>$TMP/director.err || echo failed >$TMP/director.done; sleep 86400"
for _ in $(seq 600); do [[ -e $TMP/director.done ]] && break; sleep 0.1; done
if [[ $(cat "$TMP/director.done" 2>/dev/null) != ok ]]; then
    echo "error: the Python fleet could not be created:" >&2
    cat "$TMP/setup.log" "$TMP/director.err" >&2
    exit 1
fi
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }
FID=$(jget "$TMP/fleet.json" 'd["fleet_id"]')
M1=$(jget "$TMP/m1.json" 'd["member_id"]')
M2=$(jget "$TMP/m2.json" 'd["member_id"]')
M3=$(jget "$TMP/m3.json" 'd["member_id"]')
tmux -S "$PYSOCK" kill-pane -t "$(jget "$TMP/m2.json" 'd["placement"]["mux_pane_id"]')"
# The Python tool finds tmux through $TMUX; give its commands the private server.
PY="env TMUX=$PYSOCK,0,0 $PYCF"

# --- cafleet: a fleet file of 8 fake members, brought up once so the registry knows it --
RSDB=$TMP/r.db
FLEET=$TMP/fleet.toml
{
    printf 'version = 1\n\n[fleet]\nname = "bench"\n\n[defaults]\nbackend = "fake"\n\n[director]\n'
    for i in 1 2 3 4 5 6 7 8; do printf '\n[[member]]\nname = "m%d"\n' "$i"; done
} >"$FLEET"
tmux -S "$RSSOCK" -f /dev/null new-session -d -s keep 'sleep 86400'
RS="$BIN --tmux-socket $RSSOCK --db $RSDB"
$RS up "$FLEET" >/dev/null
$RS down "$FLEET" >/dev/null
HAVE_MESSAGE=0
if $BIN message --help >/dev/null 2>&1; then HAVE_MESSAGE=1; fi

echo "Python cafleet $("$PYCF" --version 2>&1 | awk '{print $NF}') vs $("$BIN" --version); $RUNS runs a registry call, $LIVE_RUNS a live-pane send; A/B alternating"
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2 " memory, " $7 " available"}'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

pair() {  # pair RUNS "label" "python argv" "rust argv"
    local runs=$1 label=$2 py=$3 rs=$4
    $M --runs "$runs" --rss-runs 2 \
        --cmd "python: $label::$py" --cmd "rust:   $label::$rs" \
        --ratio "python: $label|rust:   $label|  ratio of medians, python / rust"
}
rust_only_skip() { printf '%-44s %s\n' "rust:   $1" "skipped (not built)"; }

printf '%-44s %4s %9s %8s %8s %12s  %s\n' command runs "median ms" "min ms" "max ms" "peak RSS MiB" failures
echo "== registry calls (cafleet fleet down; Python: m2 has no pane)"
pair "$RUNS" "list members (member list vs ps)" \
    "$PY member list --fleet-id $FID" "$RS ps --fleet bench"
if $BIN fleet --help >/dev/null 2>&1; then
    pair "$RUNS" "fleet list" "$PY fleet list" "$RS fleet list"
fi
if ((HAVE_MESSAGE)); then
    pair "$RUNS" "inbox of m1 (message poll vs inbox)" \
        "$PY message poll --fleet-id $FID --member-id $M1" \
        "$RS message inbox --fleet bench --as m1"
    pair "$RUNS" "send m1 -> m2, no live pane" \
        "$PY message send --fleet-id $FID --from-member-id $M1 --to-member-id $M2 --text hi" \
        "$RS message send --fleet bench --as m1 --to m2 hi"
else
    $M --runs "$RUNS" --rss-runs 2 \
        --cmd "python: inbox of m1 (message poll)::$PY message poll --fleet-id $FID --member-id $M1" \
        --cmd "python: send m1 -> m2, no live pane::$PY message send --fleet-id $FID --from-member-id $M1 --to-member-id $M2 --text hi"
    rust_only_skip "inbox of m1 (message inbox)"
    rust_only_skip "send m1 -> m2, no live pane"
fi
echo
echo "== send to a live pane (time until the command returns)"
$RS up "$FLEET" >/dev/null
if ((HAVE_MESSAGE)); then
    pair "$LIVE_RUNS" "send m1 -> live pane" \
        "$PY message send --fleet-id $FID --from-member-id $M1 --to-member-id $M3 --text hi" \
        "$RS message send --fleet bench --as m1 --to m2 hi"
else
    $M --runs "$LIVE_RUNS" --rss-runs 2 \
        --cmd "python: send m1 -> live pane::$PY message send --fleet-id $FID --from-member-id $M1 --to-member-id $M3 --text hi"
    rust_only_skip "send m1 -> live pane"
fi
$RS down "$FLEET" >/dev/null
