#!/usr/bin/env bash
# Benchmarks of the cafleet binary built from this checkout. See docs/benchmarks.md.
#
#   bench/run.sh                 # 20 runs a command
#   BENCH_RUNS=50 bench/run.sh   # more runs
#   BENCH_NO_BUILD=1 bench/run.sh  # skip `cargo build --release`
#
# Everything runs against a temp HOME, a temp registry and a private tmux server
# (`tmux -S $TMP/s -f /dev/null`) that the exit trap kills; the user's tmux server and
# registry are never touched. Needs: cargo, tmux, python3, /usr/bin/time (for peak RSS).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-20}
LIVE_RUNS=${BENCH_LIVE_RUNS:-10}   # probes that wait for a preview to land
M="python3 $ROOT/bench/lib/measure.py"
D="python3 $ROOT/bench/lib/delivery.py"

if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "building: cargo build --release" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi
BIN=${CAFLEET_BIN:-$ROOT/target/release/cafleet}
[[ -x $BIN ]] || { echo "error: $BIN not found (build it first)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cfb-XXXX)
SOCK=$TMP/s
DB=$TMP/r.db
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A clean environment: no identity or tmux of the caller leaks into the measurements.
unset TMUX TMUX_PANE CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_DATABASE_URL CAFLEET_TMUX_SOCKET
export HOME=$TMP/home XDG_DATA_HOME=$TMP/home/.local/share
mkdir -p "$HOME"
cd "$TMP"

FLEET=$TMP/fleet.toml
{
    printf 'version = 1\n\n[fleet]\nname = "bench"\n\n[defaults]\nbackend = "fake"\n\n[director]\n'
    for i in 1 2 3 4 5 6 7 8; do printf '\n[[member]]\nname = "m%d"\n' "$i"; done
} >"$FLEET"

# The private server, with one untagged pane that must survive every `down`.
tmux -S "$SOCK" -f /dev/null new-session -d -s keep -x 200 -y 50 'sleep 86400'

C="$BIN --tmux-socket $SOCK --db $DB"
tagged_left() { tmux -S "$SOCK" list-panes -a -F '#{@cafleet_fleet}' | grep -c . || true; }
NO_TAGGED="test \$(tmux -S $SOCK list-panes -a -F '#{@cafleet_fleet}' | grep -c .) -eq 0 && tmux -S $SOCK has-session -t keep"

echo "cafleet benchmarks — $("$BIN" --version), $RUNS runs a command (median/min/max wall time)"
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2 " memory, " $7 " available"}'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tmux $(tmux -V | cut -d' ' -f2), socket $SOCK, registry $DB"
echo

$M --header --runs "$RUNS" \
    --cmd "true (process start floor)::true" \
    --cmd "cafleet --version::$BIN --version"
echo
echo "== fleet of 8 members + director, fake backend (each run: up, up, plan, down)"
$M --runs "$RUNS" --after "$NO_TAGGED" --after-label "no tagged pane left" \
    --cmd "up (create 9 panes)::$C up $FLEET" \
    --cmd "up (no change)::$C up $FLEET" \
    --cmd "plan (in sync, exit 0)::$C plan $FLEET" \
    --cmd "down (9 panes)::$C down $FLEET"
echo
echo "== the same fleet, up --wait (returns when every agent's ready screen shows)"
$M --runs "$RUNS" --after "$NO_TAGGED" --after-label "no tagged pane left" \
    --cmd "up --wait (9 panes ready)::$C up $FLEET --wait" \
    --cmd "down (9 panes)::$C down $FLEET"
echo

HAVE_MESSAGE=0
if $BIN message --help >/dev/null 2>&1; then HAVE_MESSAGE=1; fi
skipped() { printf '%-44s %s\n' "$1" "skipped (not built)"; }

echo "== registry calls, fleet down (no live pane)"
$M --runs "$RUNS" \
    --cmd "ps::$C ps" \
    --cmd "ps --json::$C ps --json"
if ((HAVE_MESSAGE)); then
    $M --runs "$RUNS" \
        --cmd "message inbox --as m1::$C message inbox --fleet bench --as m1" \
        --cmd "message send --as m1 --to m2 (no pane)::$C message send --fleet bench --as m1 --to m2 hi" \
        --cmd "message list --as m1::$C message list --fleet bench --as m1"
else
    skipped "message inbox --as m1"
    skipped "message send --as m1 --to m2 (no pane)"
    skipped "message list --as m1"
fi
echo

echo "== fleet up (9 live panes)"
$C up "$FLEET" >/dev/null
$M --runs "$RUNS" --cmd "ps (9 live panes)::$C ps"
if ((HAVE_MESSAGE)); then
    # Return time of `send` to a live pane: plain (exit of the process) and as a shell
    # tool that captures the output sees it (until stdout/stderr close).
    $M --runs "$RUNS" \
        --cmd "message send --to m2 (live pane)::$C message send --fleet bench --as m1 --to m2 hi"
    $M --runs "$RUNS" --pipe \
        --cmd "  same, output captured (pipes closed)::$C message send --fleet bench --as m1 --to m2 hi"
    sleep 2  # let the previews of the loop above drain before the probes
    echo
    echo "== delivery to live panes (registry timestamps; $LIVE_RUNS runs, one at a time)"
    $D single --db "$DB" --runs "$LIVE_RUNS" --label "send --to m2 (live): preview submitted" \
        -- $C message send --fleet bench --as m1 --to m2 "hi from the bench"
    $D broadcast --db "$DB" --runs "$LIVE_RUNS" --n 8 --label "broadcast from director to 8 live panes" \
        -- $C message broadcast --fleet bench --as director "hi all"
    $D concurrent --db "$DB" --runs "$LIVE_RUNS" --n 8 --label "8 concurrent sends to one live pane (m2)" \
        -- $C message send --fleet bench --as m1 --to m2 "concurrent"
else
    skipped "message send --to m2 (live pane)"
    skipped "delivery probes (send/broadcast/8 concurrent)"
fi
$C down "$FLEET" >/dev/null
left=$(tagged_left)
echo
echo "tagged panes left after the final down: $left"
[[ $left -eq 0 ]]
