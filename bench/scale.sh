#!/usr/bin/env bash
# Latency of the hot registry commands on large registries: for 10, 100 and 1,000 agents
# (20 a fleet, fleets `down` so no tmux server is involved), once with no messages and
# once with 100,000, the median of each command and the ratio of the two. The target is
# a ratio ≤ 2 (the queries use indexes, so history must not slow them down).
#
#   bench/scale.sh                      # builds --release first
#   RUNS=50 SIZES="10 1000" MESSAGES=200000 bench/scale.sh
#   BENCH_NO_BUILD=1 CAFLEET_BIN=/path/to/cafleet bench/scale.sh
#
# Everything lives in a temp dir removed on exit; the registries are filled directly with
# python3's sqlite3 (bench/lib/scale.py) after `cafleet db init` created them.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
SIZES=${SIZES:-"10 100 1000"}
MESSAGES=${MESSAGES:-100000}

if [ -z "${BENCH_NO_BUILD:-}" ]; then cargo build --release --quiet; fi
BIN=${CAFLEET_BIN:-$PWD/target/release/cafleet}
LIB=$PWD/bench/lib

WORK=$(mktemp -d /tmp/cfs-XXXX)
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK
unset CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_TMUX_SOCKET CAFLEET_DATABASE_URL TMUX TMUX_PANE

echo "cafleet scale: $RUNS runs a command, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for agents in $SIZES; do
  for messages in 0 "$MESSAGES"; do
    db=$WORK/a$agents-m$messages.db
    "$BIN" --db "$db" db init >/dev/null
    start=$(date +%s%N)
    python3 "$LIB/scale.py" build "$db" --agents "$agents" --messages "$messages"
    built=$((($(date +%s%N) - start) / 1000000))
    echo "# agents=$agents messages=$messages built in ${built} ms ($(du -h "$db" | cut -f1))" >&2
    python3 "$LIB/scale.py" time "$BIN" "$db" --runs "$RUNS" |
      sed "s/^{/{\"agents\": $agents, \"messages\": $messages, /" >>"$WORK/results.jsonl"
  done
done

python3 - "$WORK/results.jsonl" "$MESSAGES" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
full = int(sys.argv[2])
by = {(r["agents"], r["messages"], r["label"]): r for r in rows}
labels = list(dict.fromkeys(r["label"] for r in rows))
sizes = sorted({r["agents"] for r in rows})
print()
print(f"| command | agents | empty median | {full:,} messages median | ratio | failures |")
print("|---|---|---|---|---|---|")
worst = 0
for label in labels:
    for n in sizes:
        e, f = by[(n, 0, label)], by[(n, full, label)]
        ratio = f["median_ms"] / e["median_ms"]
        worst = max(worst, ratio)
        fails = e["failures"] + f["failures"]
        print(f"| `{label}` | {n:,} | {e['median_ms']:.2f} ms | {f['median_ms']:.2f} ms "
              f"| {ratio:.2f}× | {fails} |")
print()
print(f"worst ratio {worst:.2f}× (target ≤ 2×): {'met' if worst <= 2 else 'NOT met'}")
PY
