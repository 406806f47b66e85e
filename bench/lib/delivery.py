#!/usr/bin/env python3
"""Delivery probes for cafleet messages to live panes, read from the registry itself.

    delivery.py single     --db DB [--runs N] -- ARGV...   # one send at a time
    delivery.py broadcast  --db DB [--runs N] -- ARGV...   # one broadcast at a time
    delivery.py concurrent --db DB [--runs N] [--n 8] -- ARGV...  # N sends at once

ARGV is a cafleet command (executed directly, no shell). After each run the probe waits
(up to --timeout seconds) until every message the run created has left state `queued`,
then reads `created_at` / `notified_at` (SQLite's own millisecond clock, see
migrations/0001_init.sql). Figures:

- returned: wall time until the command(s) exited;
- submitted: notified_at of a message minus the moment the command was started
  (converted with one clock offset measured per run), i.e. how long after the caller hit
  Enter the preview's Enter reached the pane; for broadcast/concurrent, the last one;
  "after return" is the same minus the command's own time (how long the preview trails
  the command's return); timestamps have 1 ms resolution, the offset ~0.1 ms error;
- errors: commands that exited non-zero, and how many mentioned "database is locked";
- messages left `queued` after the timeout.
"""

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time


def db_now_ms(con):
    """SQLite's clock in ms since the epoch, read at the same time as time.time()."""
    (v,) = con.execute("SELECT (julianday('now') - 2440587.5) * 86400000.0").fetchone()
    return v, time.time() * 1000.0


def ts_ms(con, text):
    if text is None:
        return None
    (v,) = con.execute("SELECT (julianday(?) - 2440587.5) * 86400000.0", (text,)).fetchone()
    return v


def max_id(con):
    (v,) = con.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
    return v


def wait_rows(con, after_id, expect, timeout):
    """Waits until >= expect rows with id > after_id exist and none is queued."""
    deadline = time.monotonic() + timeout
    while True:
        rows = con.execute(
            "SELECT id, state, created_at, notified_at FROM messages WHERE id > ? ORDER BY id",
            (after_id,),
        ).fetchall()
        if len(rows) >= expect and all(r[1] != "queued" for r in rows):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.005)


def fmt(vals):
    if not vals:
        return "n/a"
    return (f"median {statistics.median(vals):.0f} ms, min {min(vals):.0f}, "
            f"max {max(vals):.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["single", "broadcast", "concurrent"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=8, help="concurrent senders / broadcast recipients")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--label", default=None)
    args = sys.argv[1:]
    if "--" not in args:
        ap.error("give the command after --")
    cut = args.index("--")
    a = ap.parse_args(args[:cut])
    argv = args[cut + 1:]
    con = sqlite3.connect(a.db, timeout=5.0)

    returned, submitted, after_return = [], [], []
    errors, locked, left_queued, missing = 0, 0, 0, 0
    first_err = ""
    for _ in range(a.runs):
        before = max_id(con)
        db_ms, wall_ms = db_now_ms(con)
        offset = db_ms - wall_ms
        procs = a.n if a.mode == "concurrent" else 1
        start_wall_ms = time.time() * 1000.0
        t0 = time.perf_counter_ns()
        ps = [subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE) for _ in range(procs)]
        errs = [p.communicate()[1].decode("utf-8", "replace") for p in ps]
        returned.append((time.perf_counter_ns() - t0) / 1e6)
        for p, e in zip(ps, errs):
            if p.returncode != 0:
                errors += 1
                locked += "database is locked" in e
                first_err = first_err or f"exit {p.returncode}: {e.strip()[:120]}"
        expect = a.n if a.mode in ("broadcast", "concurrent") else 1
        expect -= errors if a.mode == "concurrent" else 0
        rows = wait_rows(con, before, expect, a.timeout)
        missing += max(0, expect - len(rows))
        left_queued += sum(1 for r in rows if r[1] == "queued")
        notified = [ts_ms(con, r[3]) for r in rows if r[3] is not None]
        if notified:
            submitted.append(max(notified) - (start_wall_ms + offset))
            after_return.append(submitted[-1] - returned[-1])
        time.sleep(0.2)

    label = a.label or a.mode
    total = a.runs * (a.n if a.mode == "concurrent" else 1)
    print(f"{label}")
    print(f"    returned:  {fmt(returned)}  ({a.runs} runs)")
    print(f"    submitted: {fmt(submitted)}  (last preview's Enter, from the command's start)")
    print(f"    after return: {fmt(after_return)}  (the same, from the moment the command returned)")
    print(f"    errors:    {errors}/{total} commands failed, {locked} with 'database is locked'"
          + (f"  [{first_err}]" if first_err else ""))
    print(f"    messages:  {left_queued} still queued after {a.timeout:.0f} s, "
          f"{missing} expected rows missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
