#!/usr/bin/env python3
"""End-to-end latency of one message, read from the registry's own timestamps.

    read_latency.py --db DB [--runs N] [--label TEXT] -- ARGV...

ARGV is a `cafleet message send` (executed directly, no shell), one at a time. After each
run the probe waits until the new message has `read_at` (the recipient agent ran `cafleet
message inbox` after its preview was submitted) and, up to a second more, `notified_at`
(the courier recorded the submit once it saw the agent take it, which can come after the
read). Figures, from the row's `created_at` (SQLite's millisecond clock):

- announced: notified_at - created_at (when the courier had confirmed the preview);
- read: read_at - created_at (the whole trip: store, courier, keystrokes, the agent
  reading its inbox with its own cafleet).
"""

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time


def ms(con, a, b):
    (v,) = con.execute("SELECT (julianday(?) - julianday(?)) * 86400000.0", (a, b)).fetchone()
    return v


def fmt(vals):
    if not vals:
        return "n/a"
    return f"median {statistics.median(vals):.0f} ms, min {min(vals):.0f}, max {max(vals):.0f}"


def main():
    args = sys.argv[1:]
    cut = args.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--label", default="send")
    a = ap.parse_args(args[:cut])
    argv = args[cut + 1:]
    con = sqlite3.connect(a.db, timeout=5.0)
    announced, read, returned, lost = [], [], [], 0
    for _ in range(a.runs):
        (before,) = con.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        t0 = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        returned.append((time.perf_counter() - t0) * 1000.0)
        deadline = time.monotonic() + a.timeout
        row = None
        while time.monotonic() < deadline:
            row = con.execute(
                "SELECT created_at, notified_at, read_at FROM messages WHERE id > ? ORDER BY id LIMIT 1",
                (before,),
            ).fetchone()
            if row and row[2] and (row[1] or time.monotonic() > deadline - a.timeout + 1.0):
                break
            time.sleep(0.005)
        if not row or not row[2]:
            lost += 1
            continue
        read.append(ms(con, row[2], row[0]))
        if row[1]:
            announced.append(ms(con, row[1], row[0]))
        time.sleep(0.3)
    print(a.label)
    print(f"    returned:  {fmt(returned)}  ({a.runs} runs)")
    print(f"    announced: {fmt(announced)}  (preview confirmed, from the row's creation)")
    print(f"    read:      {fmt(read)}  (the agent read it, from the row's creation)")
    print(f"    not read within {a.timeout:.0f} s: {lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
