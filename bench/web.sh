#!/usr/bin/env bash
# How soon `cafleet web` serves its first page: start it, poll GET / until it answers,
# and report the median over RUNS runs (default 10). The target is under 50 ms.
#
#   bench/web.sh                 # uses target/release/cafleet, else target/debug/cafleet
#   CAFLEET=path/to/cafleet RUNS=20 bench/web.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CAFLEET:-}
if [[ -z $bin ]]; then
    if [[ -x target/release/cafleet ]]; then bin=target/release/cafleet; else bin=target/debug/cafleet; fi
fi
[[ -x $bin ]] || { echo "error: no cafleet binary at $bin" >&2; echo "hint: cargo build --release" >&2; exit 1; }
command -v curl >/dev/null || { echo "error: curl is not installed" >&2; exit 1; }
runs=${RUNS:-10}
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A registry with a fleet in it, created before timing starts (as a user's would exist).
"$bin" --db "$tmp/cafleet.db" db init >/dev/null

# A port nothing listens on (bash's /dev/tcp fails to connect to it).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

times=()
for ((i = 1; i <= runs; i++)); do
    port=$(free_port)
    start=$(date +%s%N)
    "$bin" --db "$tmp/cafleet.db" web --port "$port" --token bench-token-1 >/dev/null 2>"$tmp/err" &
    pid=$!
    until curl -sf -o /dev/null -H "Authorization: Bearer bench-token-1" "http://127.0.0.1:$port/"; do
        if ! kill -0 "$pid" 2>/dev/null; then cat "$tmp/err" >&2; exit 1; fi
        if (( ($(date +%s%N) - start) > 5000000000 )); then echo "error: no page after 5 s" >&2; exit 1; fi
    done
    end=$(date +%s%N)
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    us=$(( (end - start) / 1000 ))
    times+=("$us")
    awk -v i="$i" -v us="$us" 'BEGIN { printf "run %2d: %6.1f ms\n", i, us / 1000 }'
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
awk -v us="$median" -v n="$runs" -v bin="$bin" \
    'BEGIN { printf "first page: median %.1f ms over %d runs (%s)\n", us / 1000, n, bin }'
