#!/usr/bin/env python3
"""Real agents against the scripted model: how fast a claude, codex or opencode member
starts and answers, as cafleet runs it.

    agents.py --cafleet BIN --clis DIR [--runs N] [--backend B ...]

For each backend: a fleet of a fake Director (`ack = true`) and one member of that
backend, on a private tmux server and HOME, pointed at `cafleet model serve` (which
answers at once). Figures, medians over N runs (min and max beside):

- up --wait: `cafleet up FILE --wait` from a cold start (no tmux server, new HOME state
  kept between runs as a user's would be) until every agent's ready screen has held
  for a second (cafleet's own settle time is part of it), then `down`;
- at model: the Director's `message send` started → the member's model received the
  preview as a user turn (the model's log, wall clock);
- round trip: the same start → the member's reply (`cafleet message send --to director
  pong`, its first tool call) stored and announced in the Director's pane (the reply
  row's notified_at);
- first submit key lost: of every preview typed into the member (the pings above, then
  N pairs sent back to back so the second reaches a member busy with the first), how
  many needed the submit key pressed again because the line stayed in the composer
  (the delivery event's `presses`), and what saw the member take each line (`hook`: its
  own hook saw the prompt; `screen`: its composer emptied; `read`: it had already read
  the message).
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPT = r"""version = 1
[[turn]]
match = 'message #(?P<id>\d+) from director: ping'
run = ["cafleet message send --to director pong-$id"]
reply = "answered"
"""


def median_line(name, values):
    if not values:
        return f"{name:<12} (no data)"
    return (
        f"{name:<12} median {statistics.median(values):7.0f} ms   "
        f"min {min(values):7.0f}   max {max(values):7.0f}   (n={len(values)})"
    )


def db_ms(con, text):
    if text is None:
        return None
    (v,) = con.execute("SELECT (julianday(?) - 2440587.5) * 86400000.0", (text,)).fetchone()
    return v


class Team:
    def __init__(self, cafleet, clis, backend):
        self.cafleet = cafleet
        self.backend = backend
        self.home = tempfile.mkdtemp(prefix=f"cafleet-bench-{backend}-")
        self.work = os.path.join(self.home, "work")
        os.makedirs(self.work)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CAFLEET_", "XDG_", "TMUX", "ANTHROPIC_", "OPENAI_"))
        }
        self.env.update(
            HOME=self.home,
            PATH=f"{clis}:{os.environ.get('PATH', '')}",
            CAFLEET_TMUX_SOCKET=f"cafleet-bench-{os.getpid()}",
            NO_COLOR="1",
        )
        with open(os.path.join(self.home, ".claude.json"), "w") as f:
            json.dump(
                {
                    "hasCompletedOnboarding": True,
                    "projects": {self.work: {"hasTrustDialogAccepted": True}},
                },
                f,
            )
        os.makedirs(os.path.join(self.home, ".codex"))
        with open(os.path.join(self.home, ".codex", "config.toml"), "w") as f:
            f.write(f"[projects.{json.dumps(self.work)}]\ntrust_level = \"trusted\"\n")
        for agent in ("claude", "codex", "opencode"):
            self.run("skill", "install", "--agent", agent)
        script = os.path.join(self.home, "script.toml")
        with open(script, "w") as f:
            f.write(SCRIPT)
        self.log = os.path.join(self.home, "model.jsonl")
        self.model = subprocess.Popen(
            [cafleet, "model", "serve", "--script", script, "--log", self.log],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        base = self.model.stdout.readline().strip().removeprefix("listening on ")
        self.file = os.path.join(self.home, "fleet.toml")
        with open(self.file, "w") as f:
            f.write(self.fleet(base))
        self.db = os.path.join(self.home, ".local/share/cafleet/cafleet.db")

    def fleet(self, base):
        q = json.dumps
        point = {
            "claude": (
                {"ANTHROPIC_BASE_URL": base, "ANTHROPIC_AUTH_TOKEN": "x",
                 "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
                [],
                "m",
            ),
            "codex": (
                {"SCRIPTED_MODEL_KEY": "x"},
                ["-c", 'model_providers.cafleet={name="cafleet",base_url="%s/v1",'
                 'env_key="SCRIPTED_MODEL_KEY",wire_api="responses"}' % base,
                 "-c", "model_provider=cafleet"],
                "m",
            ),
            "opencode": (
                {"OPENCODE_DISABLE_MODELS_FETCH": "1",
                 "OPENCODE_CONFIG_CONTENT": json.dumps({"provider": {"cafleet": {
                     "npm": "@ai-sdk/openai-compatible",
                     "options": {"baseURL": base + "/v1", "apiKey": "x"},
                     "models": {"m": {}}}}})},
                [],
                "cafleet/m",
            ),
        }[self.backend]
        env, args, model = point
        env_text = ", ".join(f"{q(k)} = {q(v)}" for k, v in env.items())
        args_text = ", ".join(q(a) for a in args)
        return (
            f'version = 1\n[fleet]\nname = "bench"\nroot = {q(self.work)}\n'
            f'[director]\nbackend = "fake"\nfake = {{ ack = true }}\n'
            f'[[member]]\nname = "m"\nbackend = "{self.backend}"\nmodel = {q(model)}\n'
            f"args = [{args_text}]\nenv = {{ {env_text} }}\nprompt = \"You are m.\"\n"
        )

    def run(self, *args, check=True):
        out = subprocess.run([self.cafleet, *args], env=self.env, capture_output=True, text=True)
        if check and out.returncode != 0:
            sys.exit(f"cafleet {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def model_times(self, needle):
        times = []
        try:
            with open(self.log) as f:
                for line in f:
                    r = json.loads(line)
                    if needle in (r.get("user") or "") and r.get("calls_before") == 0:
                        times.append(r["time_ms"])
        except FileNotFoundError:
            pass
        return times

    def close(self):
        self.run("down", self.file, check=False)
        subprocess.run(["tmux", "-L", self.env["CAFLEET_TMUX_SOCKET"], "kill-server"],
                       capture_output=True)
        self.model.terminate()
        self.model.wait()


def bench(cafleet, clis, backend, runs):
    team = Team(cafleet, clis, backend)
    ups, at_model, trips = [], [], []
    try:
        for _ in range(runs):
            t0 = time.monotonic()
            team.run("up", team.file, "--wait", "--timeout", "120s")
            ups.append((time.monotonic() - t0) * 1000)
            team.run("down", team.file)
        team.run("up", team.file, "--wait", "--timeout", "120s")
        con = sqlite3.connect(team.db)
        for _ in range(runs):
            start = time.time() * 1000
            out = team.run("message", "send", "--fleet", "bench", "--as", "director",
                           "--to", "m", "--json", "ping")
            mid = json.loads(out.stdout)["id"]
            deadline = time.monotonic() + 60
            row = None
            while time.monotonic() < deadline:
                row = con.execute(
                    "SELECT notified_at FROM messages WHERE sender = 'm' AND body = CAST(? AS BLOB)",
                    (f"pong-{mid}",),
                ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.02)
            if not (row and row[0]):
                print(f"  {backend}: no announced reply to #{mid} within 60 s", file=sys.stderr)
                continue
            trips.append(db_ms(con, row[0]) - start)
            seen = team.model_times(f"message #{mid} from director")
            if seen:
                at_model.append(min(seen) - start)
            # Let the Director's pane settle (it reads and acks) before the next ping.
            time.sleep(0.5)
        # Two at once, so the second preview reaches a member busy with the first.
        for _ in range(runs):
            ids = [json.loads(team.run("message", "send", "--fleet", "bench", "--as", "director",
                                       "--to", "m", "--json", "ping").stdout)["id"]
                   for _ in range(2)]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                left = con.execute(
                    f"SELECT COUNT(*) FROM messages WHERE id IN ({ids[0]}, {ids[1]}) AND state = 'queued'"
                ).fetchone()[0]
                if left == 0:
                    break
                time.sleep(0.05)
            time.sleep(0.5)
        deliveries = [json.loads(d) for (d,) in con.execute(
            "SELECT detail FROM events WHERE kind = 'delivery' AND agent = 'm'")]
    finally:
        team.close()
    return ups, at_model, trips, deliveries


def enter_lines(deliveries):
    """How often the first submit key was lost, and what confirmed the rest."""
    typed = [d for d in deliveries if d.get("presses", 0) >= 1 or d.get("outcome") == "queued"]
    lost = [d for d in typed if d.get("presses", 0) > 1 or "still in the composer" in d.get("reason", "")]
    taken = {}
    for d in typed:
        key = d.get("taken", d.get("outcome"))
        taken[key] = taken.get(key, 0) + 1
    share = 100.0 * len(lost) / len(typed) if typed else 0.0
    return [
        f"first submit key lost: {len(lost)} of {len(typed)} previews ({share:.0f}%)",
        "taken: " + ", ".join(f"{k} {v}" for k, v in sorted(taken.items())),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cafleet", required=True)
    parser.add_argument("--clis", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backend", action="append")
    args = parser.parse_args()
    for backend in args.backend or ["claude", "codex", "opencode"]:
        ups, at_model, trips, deliveries = bench(args.cafleet, args.clis, backend, args.runs)
        print(f"## {backend}")
        print(median_line("up --wait", ups))
        print(median_line("at model", at_model))
        print(median_line("round trip", trips))
        for line in enter_lines(deliveries):
            print(line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
