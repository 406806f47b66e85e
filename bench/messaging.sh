#!/usr/bin/env bash
# Medians of the messaging commands agents call most: `message send` to a member with
# no live pane (so only the registry write and the process start are measured) and
# `message inbox`. Builds --release first. RUNS=N overrides the 20 runs per command.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}

cargo build --release --quiet
BIN=$PWD/target/release/cafleet

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK
export CAFLEET_DATABASE_URL=$WORK/cafleet.db
unset CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_TMUX_SOCKET TMUX TMUX_PANE

# A fleet with two members and no panes, registered directly (as `up` would).
"$BIN" db init >/dev/null
sqlite3 "$CAFLEET_DATABASE_URL" <<'SQL'
INSERT INTO fleets (name, origin, session) VALUES ('bench', 'cli', 'bench');
INSERT INTO agents (fleet_id, name, role, backend, origin, status)
  SELECT id, 'director', 'director', 'fake', 'cli', 'idle' FROM fleets WHERE name = 'bench';
INSERT INTO agents (fleet_id, name, role, backend, origin, status)
  SELECT id, 'api', 'member', 'fake', 'cli', 'idle' FROM fleets WHERE name = 'bench';
SQL

now_ns() { date +%s%N; }

# median_ms LABEL CMD…: runs CMD $RUNS times (output discarded) and prints the median.
# $SETUP, when set, is evaluated before each run, outside the timed part.
median_ms() {
  local label=$1
  shift
  local times=() start end
  for _ in $(seq "$RUNS"); do
    if [ -n "${SETUP:-}" ]; then eval "$SETUP" >/dev/null; fi
    start=$(now_ns)
    "$@" >/dev/null
    end=$(now_ns)
    times+=($(((end - start) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" -v runs="$RUNS" '
    { t[NR] = $1 }
    END {
      m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "%-32s median %7.2f ms  (min %.2f, max %.2f, %d runs)\n", label, m / 1000, t[1] / 1000, t[NR] / 1000, runs
    }'
}

median_ms "message send (no live pane)" \
  "$BIN" message send --fleet bench --as director --to api "benchmark message"
SETUP='"$BIN" message send --fleet bench --as director --to api "one new message"' \
  median_ms "message inbox (1 new message)" \
  "$BIN" message inbox --fleet bench --as api
median_ms "message inbox (empty)" \
  "$BIN" message inbox --fleet bench --as api
median_ms "message inbox --json (empty)" \
  "$BIN" message inbox --fleet bench --as api --json
