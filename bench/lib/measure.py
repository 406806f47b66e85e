#!/usr/bin/env python3
"""Time commands: wall clock (perf_counter_ns) and peak RSS of each run.

    measure.py [--runs N] [--warmup W] [--after SHELL] [--ratio 'A|B'] [--results FILE]
               --cmd 'LABEL::ARGV...' [--cmd 'LABEL::ARGV...' ...]

Each run executes every --cmd once, in the order given (so several --cmd alternate
A/B/A/B..., and `up`/`plan`/`down` form a cycle). ARGV is split with shlex and executed
directly, not through a shell, so no shell start-up is timed. A command may end with
'=>RC' to say which exit code is expected (default 0). --after runs a shell command,
untimed, after every run; a non-zero exit counts as a failed check for the run.

Wall time: the timed runs start the command directly (subprocess, no shell).
Peak RSS: after the timed runs, --rss-runs more runs (default 3, not timed) start every
command through `/usr/bin/time -f %M` (GNU time), whose
report is the command's own high-water mark (and that of the children it waited for; a
process it leaves detached is not counted). Why not getrusage/wait4 from here: Linux
carries the parent's RSS high-water mark across fork+exec into the child's ru_maxrss, so
every child of this Python process would read >= ~10-15 MiB. Starting through `time`
adds ~0.7 ms of wall time, which is why those runs are not timed. Without /usr/bin/time
(or with BENCH_NO_TIME=1) the wait4 figure of the timed runs is used, inflated as said.

Prints one table row a command: runs, median / min / max wall time, peak RSS, failures.
--ratio 'A|B[|NAME]' adds a line "NAME = x": the median of A over the median of B.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


TIME = None if os.environ.get("BENCH_NO_TIME") else (
    "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None)


def parse_cmd(spec):
    label, sep, rest = spec.partition("::")
    if not sep:
        sys.exit(f"measure.py: --cmd needs LABEL::ARGV, got {spec!r}")
    expect = 0
    if "=>" in rest:
        rest, _, rc = rest.rpartition("=>")
        expect = int(rc)
    return {"label": label.strip(), "argv": shlex.split(rest), "expect": expect}


def drain(out, errp):
    """Reads both pipes to EOF without deadlocking; returns what came on the second."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(out, selectors.EVENT_READ)
    sel.register(errp, selectors.EVENT_READ)
    got = b""
    open_ = 2
    while open_:
        for key, _ in sel.select():
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_ -= 1
            elif key.fileobj is errp:
                got += chunk
    return got


def run_once(argv, pipe=False, use_time=False):
    """Returns (wall_ns, maxrss_kib, exit_code, stderr_text).

    Default: stdout to /dev/null, stderr to a temp file; the time ends when the process
    exits (wait4). pipe=True: stdout and stderr are pipes, as a shell tool capturing the
    output sees them; the time ends when the process has exited AND both pipes are closed
    (a detached child that keeps them open makes the caller wait)."""
    import tempfile
    with tempfile.TemporaryFile() as errf, tempfile.NamedTemporaryFile() as rssf:
        if use_time:
            argv = [TIME, "-f", "%M", "-o", rssf.name] + list(argv)
        t0 = time.perf_counter_ns()
        if pipe:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            err = drain(p.stdout, p.stderr)
        else:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter_ns()
        p.returncode = os.waitstatus_to_exitcode(status)
        if pipe:
            p.stdout.close()
            p.stderr.close()
        else:
            errf.seek(0)
            err = errf.read()
        maxrss = ru.ru_maxrss
        if use_time:
            lines = open(rssf.name).read().split()
            maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return t1 - t0, maxrss, p.returncode, err.decode("utf-8", "replace")


def fmt_ms(ns):
    ms = ns / 1e6
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "20")))
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--cmd", action="append", required=True)
    ap.add_argument("--after", default=None)
    ap.add_argument("--after-label", default=None)
    ap.add_argument("--rss-runs", type=int, default=3)
    ap.add_argument("--ratio", action="append", default=[])
    ap.add_argument("--results", default=None, help="append JSON lines here")
    ap.add_argument("--header", action="store_true", help="print the table header")
    ap.add_argument("--pipe", action="store_true",
                    help="capture stdout/stderr through pipes and wait for their EOF")
    a = ap.parse_args()

    cmds = [parse_cmd(c) for c in a.cmd]
    for c in cmds:
        c.update(times=[], rss=[], fails=0, first_err="")
    check_fails = 0

    rss_runs = a.rss_runs if TIME else 0
    for i in range(a.warmup + a.runs + rss_runs):
        timed = a.warmup <= i < a.warmup + a.runs
        rss_run = i >= a.warmup + a.runs
        for c in cmds:
            ns, rss, rc, err = run_once(c["argv"], a.pipe, rss_run)
            if rss_run or (timed and not TIME):
                c["rss"].append(rss)
            if not (timed or rss_run):
                continue
            if timed:
                c["times"].append(ns)
            if rc != c["expect"]:
                c["fails"] += 1
                if not c["first_err"]:
                    line = err.strip().splitlines()[:1]
                    c["first_err"] = f"exit {rc}: {line[0] if line else ''}"
        if a.after and (timed or rss_run):
            if subprocess.run(a.after, shell=True).returncode != 0:
                check_fails += 1

    if a.header:
        print(f"{'command':<44} {'runs':>4} {'median ms':>9} {'min ms':>8} {'max ms':>8} "
              f"{'peak RSS MiB':>12}  failures")
    medians = {}
    for c in cmds:
        t = c["times"]
        med = statistics.median(t)
        medians[c["label"]] = med
        rss_mib = max(c["rss"]) / 1024
        fails = f"{c['fails']}/{len(t) + rss_runs}" + (f" ({c['first_err']})" if c["fails"] else "")
        print(f"{c['label']:<44} {len(t):>4} {fmt_ms(med):>9} {fmt_ms(min(t)):>8} "
              f"{fmt_ms(max(t)):>8} {rss_mib:>12.1f}  {fails}")
        if a.results:
            with open(a.results, "a") as f:
                f.write(json.dumps({
                    "label": c["label"], "runs": len(t), "median_ms": med / 1e6,
                    "min_ms": min(t) / 1e6, "max_ms": max(t) / 1e6,
                    "peak_rss_mib": rss_mib, "failures": c["fails"],
                    "first_error": c["first_err"],
                }) + "\n")
    if a.after:
        print(f"{'  check after each run: ' + (a.after_label or a.after[:20]):<44} {a.runs + rss_runs:>4}  "
              f"{'ok' if check_fails == 0 else f'FAILED in {check_fails} runs'}")
    for r in a.ratio:
        num, _, rest = r.partition("|")
        den, _, name = rest.partition("|")
        name = name or f"{num} / {den}"
        if num in medians and den in medians and medians[den] > 0:
            q = medians[num] / medians[den]
            print(f"  {name} = {q:.0f}x" if q >= 10 else f"  {name} = {q:.2f}x")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
