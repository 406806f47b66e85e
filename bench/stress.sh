#!/usr/bin/env bash
# Concurrency: 16 processes x 1,000 `message send` while 4 readers loop `message inbox`
# + `message ack`, all on one registry (fleet down, no panes). Prints the counts (sent,
# stored, read, acked) and every error; exits 1 unless each message was stored once,
# read once and acked, with 0 "database is locked" errors.
#
#   bench/stress.sh
#   SENDERS=8 SENDS=200 READERS=2 bench/stress.sh
#   BENCH_NO_BUILD=1 CAFLEET_BIN=/path/to/cafleet bench/stress.sh
set -euo pipefail

cd "$(dirname "$0")/.."
SENDERS=${SENDERS:-16}
SENDS=${SENDS:-1000}
READERS=${READERS:-4}

if [ -z "${BENCH_NO_BUILD:-}" ]; then cargo build --release --quiet; fi
BIN=${CAFLEET_BIN:-$PWD/target/release/cafleet}

WORK=$(mktemp -d /tmp/cfst-XXXX)
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK
unset CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_TMUX_SOCKET CAFLEET_DATABASE_URL TMUX TMUX_PANE
DB=$WORK/cafleet.db

"$BIN" --db "$DB" db init >/dev/null
python3 - "$DB" "$SENDERS" "$READERS" <<'PY'
import sqlite3, sys
db, senders, readers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(db)
with con:
    fid = con.execute("INSERT INTO fleets (name, origin, session, status) "
                      "VALUES ('load', 'cli', 'load', 'down')").lastrowid
    names = [f"s{i}" for i in range(senders)] + [f"r{i}" for i in range(readers)]
    con.executemany("INSERT INTO agents (fleet_id, name, role, backend, origin, status) "
                    "VALUES (?, ?, 'member', 'fake', 'cli', 'idle')", [(fid, n) for n in names])
PY
echo "cafleet stress: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/lib/stress.py "$BIN" "$DB" --senders "$SENDERS" --sends "$SENDS" --readers "$READERS"
