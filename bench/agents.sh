#!/usr/bin/env bash
# Real agents (claude, codex, opencode) against cafleet's scripted model: cold `up --wait`,
# message → preview at the model, message → reply announced back. See docs/benchmarks.md.
#
#   bench/agents.sh                       # 10 runs a figure, every backend
#   BENCH_RUNS=5 bench/agents.sh codex    # fewer runs, one backend
#   BENCH_NO_BUILD=1 bench/agents.sh      # skip `cargo build --release`
#
# Each backend runs on its own temp HOME and private tmux server (killed at the end); the
# CLIs come from $CAFLEET_AGENT_CLIS (tests/agent-clis.sh installs them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-10}
CLIS="${CAFLEET_AGENT_CLIS:-$HOME/.cache/cafleet/agent-clis}/node_modules/.bin"
[[ -x $CLIS/claude && -x $CLIS/codex && -x $CLIS/opencode ]] || {
    echo "error: the agent CLIs are not in $CLIS" >&2
    echo "hint: run tests/agent-clis.sh first" >&2
    exit 1
}
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "building: cargo build --release" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi
BIN=${CAFLEET_BIN:-$ROOT/target/release/cafleet}
backends=()
for b in "$@"; do backends+=(--backend "$b"); done
exec python3 "$ROOT/bench/lib/agents.py" --cafleet "$BIN" --clis "$CLIS" --runs "$RUNS" "${backends[@]}"
