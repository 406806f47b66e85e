#!/usr/bin/env bash
# Installs the agent CLIs the conformance suite (tests/conformance.rs) runs, at the
# versions it was checked with, into $CAFLEET_AGENT_CLIS (default
# ~/.cache/cafleet/agent-clis) — only those missing or at another version. Run it once
# before `cargo test` to include the suite; `.ci/run` sources it.
set -euo pipefail

export CAFLEET_AGENT_CLIS="${CAFLEET_AGENT_CLIS:-$HOME/.cache/cafleet/agent-clis}"
clis=("@anthropic-ai/claude-code@2.1.197" "@openai/codex@0.171.0" "opencode-ai@1.18.33")
missing=()
for spec in "${clis[@]}"; do
    name="${spec%@*}" version="${spec##*@}"
    manifest="$CAFLEET_AGENT_CLIS/node_modules/$name/package.json"
    if ! grep -q "\"version\": *\"$version\"" "$manifest" 2>/dev/null; then
        missing+=("$spec")
    fi
done
if ((${#missing[@]})); then
    if ! command -v npm >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    fi
    echo "installing into $CAFLEET_AGENT_CLIS: ${missing[*]}"
    mkdir -p "$CAFLEET_AGENT_CLIS"
    npm install --prefix "$CAFLEET_AGENT_CLIS" --no-audit --no-fund --loglevel=error "${clis[@]}"
fi
