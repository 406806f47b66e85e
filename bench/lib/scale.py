#!/usr/bin/env python3
"""Build large registries fast and time the hot commands against them.

    scale.py build DB --agents N --messages M [--per-fleet 20] [--seed 1]
    scale.py time BIN DB --runs R [--label L]

`build` fills a registry that `cafleet db init` created: fleets `f00`, `f01`, ... (status
`down`, so no tmux server is needed) with `--per-fleet` agents each (`m0000`, ...; idle,
no pane; the first of every fleet is its director), then M messages between random
members of the same fleet. Most are `acked`; the newest 2 % are `queued`, `notified` or
`read`, as in a registry that has been in use for a while. One transaction, executemany.

`time` runs each hot command R times (after one warm-up) directly (no shell) and prints
one JSON object a line: {"label", "cmd", "median_ms", "min_ms", "max_ms", "failures"}.
The speaker is `m0001` of fleet `f00`, talking to `m0002`.
"""

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time


def build(args):
    rnd = random.Random(args.seed)
    con = sqlite3.connect(args.db)
    con.execute("PRAGMA journal_mode=WAL")
    fleets = max(1, -(-args.agents // args.per_fleet))
    members = {}  # fleet id -> [names]
    with con:
        n = 0
        for f in range(fleets):
            name = f"f{f:02d}"
            cur = con.execute(
                "INSERT INTO fleets (name, origin, session, status) VALUES (?, 'cli', ?, 'down')",
                (name, f"cafleet-{name}"))
            fid = cur.lastrowid
            rows = []
            for i in range(min(args.per_fleet, args.agents - n)):
                agent = f"m{n:04d}"
                n += 1
                rows.append((fid, agent, "director" if i == 0 else "member",
                             rnd.choice(["idle", "stopped"])))
            con.executemany(
                "INSERT INTO agents (fleet_id, name, role, backend, origin, status) "
                "VALUES (?, ?, ?, 'fake', 'cli', ?)", rows)
            members[fid] = [r[1] for r in rows]
        fids = [f for f, names in members.items() if len(names) >= 2]
        recent = args.messages - args.messages // 50

        def rows():
            for i in range(args.messages):
                fid = rnd.choice(fids)
                sender, recipient = rnd.sample(members[fid], 2)
                state = "acked" if i < recent else rnd.choice(["queued", "notified", "read"])
                yield (fid, sender, recipient, f"message {i}: " + "x" * rnd.randint(10, 200),
                       state)

        con.executemany(
            "INSERT INTO messages (fleet_id, sender, recipient, body, kind, state, "
            "notified_at, read_at, acked_at) VALUES (?, ?, ?, CAST(? AS BLOB), 'message', ?5, "
            "CASE WHEN ?5 <> 'queued' THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') END, "
            "CASE WHEN ?5 IN ('read','acked') THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') END, "
            "CASE WHEN ?5 = 'acked' THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') END)",
            rows())
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def commands(bin_, db):
    who = ["--fleet", "f00", "--as", "m0001"]
    base = [bin_, "--db", db]
    return [
        ("message inbox", base + ["message", "inbox", *who]),
        ("message list --with", base + ["message", "list", *who, "--with", "m0002",
                                        "--limit", "20"]),
        ("member list", base + ["member", "list", "--fleet", "f00"]),
        ("ps --fleet", base + ["ps", "--fleet", "f00"]),
        ("ps", base + ["ps"]),
        ("message send", base + ["message", "send", *who, "--to", "m0002", "hi"]),
    ]


def time_them(args):
    for label, argv in commands(args.bin, args.db):
        times, failures = [], 0
        for run in range(args.runs + 1):
            start = time.perf_counter_ns()
            rc = subprocess.run(argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode
            elapsed = time.perf_counter_ns() - start
            failures += rc != 0
            if run:
                times.append(elapsed / 1e6)
        print(json.dumps({"label": label, "cmd": " ".join(argv[3:]),
                          "median_ms": statistics.median(times), "min_ms": min(times),
                          "max_ms": max(times), "failures": failures}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("build")
    b.add_argument("db")
    b.add_argument("--agents", type=int, required=True)
    b.add_argument("--messages", type=int, required=True)
    b.add_argument("--per-fleet", type=int, default=20)
    b.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("time")
    t.add_argument("bin")
    t.add_argument("db")
    t.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    if args.what == "build":
        build(args)
    else:
        time_them(args)


if __name__ == "__main__":
    sys.exit(main())
