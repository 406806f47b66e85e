#!/usr/bin/env bash
# The registry on PostgreSQL vs SQLite, same machine, same binary: medians of the
# registry commands agents and operators run most (each a whole `cafleet` process: start,
# open the registry — a file, or a connection to the server — the statements, exit), then
# the concurrency run of bench/stress.sh (16 processes x 1,000 sends, 4 readers acking)
# on PostgreSQL. The server is a private one (tests/postgres.sh: temp data folder, free
# port on 127.0.0.1, stopped on exit).
#
#   bench/postgres.sh
#   RUNS=50 bench/postgres.sh              # runs per command (default 20)
#   SENDS=200 bench/postgres.sh            # sends per sender in the concurrency run
#   SENDS=0 bench/postgres.sh              # skip the concurrency run
#   BENCH_NO_BUILD=1 CAFLEET_BIN=/path/to/cafleet bench/postgres.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
if [ "$RUNS" -lt 3 ]; then echo "error: RUNS must be 3 or more" >&2; exit 1; fi
SENDERS=${SENDERS:-16}
SENDS=${SENDS:-1000}
READERS=${READERS:-4}

if [ -z "${BENCH_NO_BUILD:-}" ]; then cargo build --release --quiet; fi
BIN=${CAFLEET_BIN:-$PWD/target/release/cafleet}

# shellcheck source=../tests/postgres.sh
source tests/postgres.sh
WORK=$(mktemp -d /tmp/cfpg-XXXX)
trap 'cafleet_pg_stop; rm -rf "$WORK"' EXIT
export HOME=$WORK
unset CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_TMUX_SOCKET CAFLEET_DATABASE_URL TMUX TMUX_PANE

psql "$CAFLEET_TEST_POSTGRES_URL" -qc 'CREATE DATABASE bench' -c 'CREATE DATABASE stress'
PG=${CAFLEET_TEST_POSTGRES_URL%/*}/bench
STRESS=${CAFLEET_TEST_POSTGRES_URL%/*}/stress
SQLITE=$WORK/cafleet.db

# The same seed on both: fleet `bench` with a Director and `api`, no panes (as `up` would
# register them), and fleet `load` (down) with s0… and r0… for the concurrency run.
SEED="
INSERT INTO fleets (name, origin, session) VALUES ('bench', 'cli', 'bench');
INSERT INTO agents (fleet_id, name, role, backend, origin, status)
  SELECT id, 'director', 'director', 'fake', 'cli', 'idle' FROM fleets WHERE name = 'bench';
INSERT INTO agents (fleet_id, name, role, backend, origin, status)
  SELECT id, 'api', 'member', 'fake', 'cli', 'idle' FROM fleets WHERE name = 'bench';
"
"$BIN" --db "$SQLITE" db init >/dev/null
"$BIN" --db "$PG" db init >/dev/null
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$SQLITE" "$SEED"
psql "$PG" -qc "$SEED"

now_ns() { date +%s%N; }

# median_ms CMD…: runs CMD $RUNS times (output discarded), prints the median in ms.
# $SETUP, when set, is evaluated before each run, outside the timed part.
median_ms() {
  local times=() start end
  for _ in $(seq "$RUNS"); do
    if [ -n "${SETUP:-}" ]; then eval "$SETUP" >/dev/null; fi
    start=$(now_ns)
    "$@" >/dev/null
    end=$(now_ns)
    times+=($(((end - start) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '
    { t[NR] = $1 }
    END { printf "%.2f", ((NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2) / 1000 }'
}

# row LABEL ARGS…: the median of `cafleet --db X ARGS` on SQLite and on PostgreSQL.
row() {
  local label=$1 sqlite pg
  shift
  sqlite=$(DB=$SQLITE median_ms "$BIN" --db "$SQLITE" "$@")
  pg=$(DB=$PG median_ms "$BIN" --db "$PG" "$@")
  printf '| %-34s | %8s ms | %8s ms | %5.2f |\n' "$label" "$sqlite" "$pg" \
    "$(awk -v a="$pg" -v b="$sqlite" 'BEGIN { print a / b }')"
}

echo "cafleet registry: SQLite vs PostgreSQL $(psql "$PG" -Atc 'SHOW server_version'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs a command (medians)"
echo
echo "| command                            |   SQLite    | PostgreSQL  | PG/SQLite |"
echo "|---|---|---|---|"
row "message send (no live pane)" message send --fleet bench --as director --to api "benchmark message"
SETUP='"$BIN" --db "$DB" message send --fleet bench --as director --to api "one new message"' \
  row "message inbox (1 new message)" message inbox --fleet bench --as api
row "message inbox (empty)" message inbox --fleet bench --as api
row "message list --limit 20" message list --fleet bench --as api --limit 20
row "message ack (5 ids, acked before)" message ack --fleet bench --as api 1 2 3 4 5
row "ps --json" ps --json
row "member list --json" member list --fleet bench --json
row "events --fleet bench" events --fleet bench
row "db init (already current)" db init

if [ "$SENDS" -gt 0 ]; then
  echo
  "$BIN" --db "$STRESS" db init >/dev/null
  python3 - "$SENDERS" "$READERS" <<'PY' | psql "$STRESS" -q
import sys
senders, readers = int(sys.argv[1]), int(sys.argv[2])
print("INSERT INTO fleets (name, origin, session, status) VALUES ('load', 'cli', 'load', 'down');")
for name in [f"s{i}" for i in range(senders)] + [f"r{i}" for i in range(readers)]:
    print("INSERT INTO agents (fleet_id, name, role, backend, origin, status) "
          f"SELECT id, '{name}', 'member', 'fake', 'cli', 'idle' FROM fleets WHERE name = 'load';")
PY
  echo "concurrency on PostgreSQL: $SENDERS processes x $SENDS sends, $READERS readers acking"
  python3 bench/lib/stress.py "$BIN" "$STRESS" --senders "$SENDERS" --sends "$SENDS" --readers "$READERS"
fi
