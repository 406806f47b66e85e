#!/usr/bin/env python3
"""Many writers and readers on one registry at once.

    stress.py BIN DB --senders 16 --sends 1000 --readers 4

DB is a SQLite file or a postgres:// URL (counted with psql).

The registry must hold fleet `load` (down) with members s0… and r0…: sender i sends
`--sends` messages to r(i mod readers) while every reader loops `inbox --json` + `ack`
until the senders are done and its inbox is empty. Prints what was sent, stored, read
and acked, every failed command and how many said "locked"/"busy", and exits 1 unless
each message was stored once, handed out once and acked.
"""

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bin")
    p.add_argument("db")
    p.add_argument("--senders", type=int, default=16)
    p.add_argument("--sends", type=int, default=1000)
    p.add_argument("--readers", type=int, default=4)
    a = p.parse_args()
    base = [a.bin, "--db", a.db]
    lock = threading.Lock()
    failures, busy, read_ids, dupes = [], [0], {}, [0]
    sending = threading.Event()
    sending.set()

    def run(argv):
        out = subprocess.run(base + argv, capture_output=True)
        err = out.stderr.decode(errors="replace")
        if out.returncode != 0 or "locked" in err or "busy" in err or "panicked" in err:
            with lock:
                failures.append(f"{' '.join(argv[:6])}: exit {out.returncode}: {err.strip()[:200]}")
                busy[0] += "locked" in err or "busy" in err
            return None
        return out.stdout

    def sender(i):
        for n in range(a.sends):
            run(["message", "send", "--fleet", "load", "--as", f"s{i}", "--to",
                 f"r{i % a.readers}", f"s{i}-{n}"])

    def reader(r):
        while True:
            done = not sending.is_set()
            out = run(["message", "inbox", "--fleet", "load", "--as", f"r{r}", "--json"])
            if out is None:
                continue
            rows = json.loads(out)
            with lock:
                for m in rows:
                    dupes[0] += m["id"] in read_ids
                    read_ids[m["id"]] = m["body"]
            if rows:
                run(["message", "ack", "--fleet", "load", "--as", f"r{r}"]
                    + [str(m["id"]) for m in rows])
            elif done:
                return

    start = time.monotonic()
    senders = [threading.Thread(target=sender, args=(i,)) for i in range(a.senders)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(a.readers)]
    for t in senders + readers:
        t.start()
    for t in senders:
        t.join()
    sent_s = time.monotonic() - start
    sending.clear()
    for t in readers:
        t.join()
    total_s = time.monotonic() - start

    if a.db.startswith(("postgres://", "postgresql://")):
        # A PostgreSQL registry (bench/postgres.sh): counted with psql.
        out = subprocess.run(
            ["psql", a.db, "-At", "-F", " ", "-c",
             "SELECT COUNT(*), COUNT(DISTINCT body), "
             "COUNT(*) FILTER (WHERE state = 'acked' AND acked_at IS NOT NULL) FROM messages"],
            capture_output=True, text=True, check=True)
        stored, distinct, acked = (int(x) for x in out.stdout.split())
    else:
        con = sqlite3.connect(a.db)
        stored, distinct, acked = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT body), SUM(state = 'acked' AND acked_at IS NOT NULL) "
            "FROM messages").fetchone()
    expected = a.senders * a.sends
    print(f"sends:    {expected} ({a.senders} processes x {a.sends}) in {sent_s:.1f} s, "
          f"{expected / sent_s:.0f}/s")
    print(f"stored:   {stored} rows, {distinct} distinct bodies")
    print(f"read:     {len(read_ids)} handed out by inbox, {dupes[0]} handed out twice")
    print(f"acked:    {acked or 0}")
    print(f"errors:   {len(failures)} failed commands, {busy[0]} said locked/busy; "
          f"all done in {total_s:.1f} s")
    for f in failures[:10]:
        print(f"  {f}")
    ok = (stored == distinct == len(read_ids) == (acked or 0) == expected
          and not failures and not dupes[0])
    print("result:  ", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
