#!/usr/bin/env bash
# Members on another host over ssh (docs/scale-out.md), measured with no second machine:
# a private sshd on 127.0.0.1 (own host key, own client key, own HOME and TMUX_TMPDIR for
# its sessions) stands for host `remote1`, reached through CAFLEET_SSH_COMMAND="ssh -F
# $TMP/ssh_config". What is measured is cafleet's own cost over ssh (a shared
# connection, the remote shell, a second tmux server); a real network adds its round
# trips to every call.
#
#   bench/hosts.sh                 # 10 runs a command
#   BENCH_RUNS=20 bench/hosts.sh
#   BENCH_NO_BUILD=1 bench/hosts.sh
#
# Needs: cargo, tmux, python3, sshd/ssh/ssh-keygen (openssh-server, openssh-client).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-10}
LIVE_RUNS=${BENCH_LIVE_RUNS:-10}
M="python3 $ROOT/bench/lib/measure.py"
R="python3 $ROOT/bench/lib/read_latency.py"

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for tool in "$SSHD" ssh ssh-keygen tmux python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is needed" >&2; exit 1; }
done

if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "building: cargo build --release" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi
BIN=${CAFLEET_BIN:-$ROOT/target/release/cafleet}
[[ -x $BIN ]] || { echo "error: $BIN not found (build it first)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cfh-XXXX)
SOCK=$TMP/s
DB=$TMP/r.db
SSHD_PID=
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    tmux -S "$TMP/remote_tmux/tmux-$(id -u)/s" kill-server 2>/dev/null || true
    ssh -F "$TMP/ssh_config" -o "ControlPath=$TMP/control/%C" -O exit remote1 2>/dev/null || true
    [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unset TMUX TMUX_PANE CAFLEET_FLEET CAFLEET_MEMBER CAFLEET_DATABASE_URL CAFLEET_TMUX_SOCKET
export HOME=$TMP/home XDG_DATA_HOME=$TMP/home/.local/share
mkdir -p "$HOME" "$TMP/remote_home" "$TMP/remote_tmux" "$TMP/control" "$TMP/bin"
chmod 700 "$TMP/remote_tmux" "$TMP/control"
ln -s "$BIN" "$TMP/bin/cafleet"
cd "$TMP"

# The second "host": its sessions get their own HOME and tmux folder, and this cafleet.
ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/client_key"
cp "$TMP/client_key.pub" "$TMP/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
USER_NAME=$(id -un)
cat >"$TMP/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $TMP/host_key
PidFile none
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $USER_NAME
MaxStartups 100
MaxSessions 100
SetEnv HOME=$TMP/remote_home TMUX_TMPDIR=$TMP/remote_tmux PATH=$TMP/bin:/usr/local/bin:/usr/bin:/bin
EOF
cat >"$TMP/ssh_config" <<EOF
Host remote1
  HostName 127.0.0.1
  Port $PORT
  User $USER_NAME
  IdentityFile $TMP/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile $TMP/known_hosts
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
EOF
"$SSHD" -D -e -f "$TMP/sshd_config" 2>"$TMP/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
    ssh -F "$TMP/ssh_config" -o BatchMode=yes remote1 true 2>/dev/null && break
    sleep 0.1
done
ssh -F "$TMP/ssh_config" -o BatchMode=yes remote1 true || { cat "$TMP/sshd.log" >&2; exit 1; }
export CAFLEET_SSH_COMMAND="ssh -F $TMP/ssh_config" CAFLEET_SSH_CONTROL_DIR=$TMP/control

# 20 members: l1..l10 here, r1..r10 on remote1.
FLEET=$TMP/fleet.toml
{
    printf 'version = 1\n\n[fleet]\nname = "hosts"\n\n[defaults]\nbackend = "fake"\n\n[director]\n'
    for i in $(seq 10); do printf '\n[[member]]\nname = "l%d"\n' "$i"; done
    for i in $(seq 10); do printf '\n[[member]]\nname = "r%d"\nhost = "remote1"\n' "$i"; done
} >"$FLEET"

# The same 20 members all here, for comparison.
FLEET_HERE=$TMP/here.toml
{
    printf 'version = 1\n\n[fleet]\nname = "here"\n\n[defaults]\nbackend = "fake"\n\n[director]\n'
    for i in $(seq 20); do printf '\n[[member]]\nname = "h%d"\n' "$i"; done
} >"$FLEET_HERE"

tmux -S "$SOCK" -f /dev/null new-session -d -s keep -x 200 -y 50 'sleep 86400'
C="$BIN --tmux-socket $SOCK --db $DB"
RSOCK=$TMP/remote_tmux/tmux-$(id -u)/s
NO_TAGGED="test \$(tmux -S $SOCK list-panes -a -F '#{@cafleet_fleet}' | grep -c .) -eq 0 && test \$( (tmux -S $RSOCK list-panes -a -F '#{@cafleet_fleet}' 2>/dev/null || true) | grep -c .) -eq 0"

echo "cafleet over ssh — $("$BIN" --version), $RUNS runs a command (median/min/max wall time)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(ssh -V 2>&1); tmux $(tmux -V | cut -d' ' -f2)"
echo "host remote1: a private sshd on 127.0.0.1:$PORT (no network latency)"
echo

$M --header --runs "$RUNS" \
    --cmd "ssh remote1 true (shared connection)::ssh -F $TMP/ssh_config -o ControlMaster=auto -o ControlPath=$TMP/control/%C -o ControlPersist=60 remote1 true"
echo
echo "== 20 members split over 2 hosts (10 here, 10 on remote1) + director"
$M --runs "$RUNS" --after "$NO_TAGGED" --after-label "no tagged pane left on either host" \
    --cmd "up (create 21 panes, 10 over ssh)::$C up $FLEET" \
    --cmd "up (no change)::$C up $FLEET" \
    --cmd "plan (in sync)::$C plan $FLEET" \
    --cmd "ps (21 live panes, 2 hosts)::$C ps --fleet hosts" \
    --cmd "down (21 panes on 2 hosts)::$C down $FLEET"
echo
echo "== the same 20 members + director, all on this machine (for comparison)"
$M --runs "$RUNS" --after "$NO_TAGGED" --after-label "no tagged pane left" \
    --cmd "up (create 21 panes here)::$C up $FLEET_HERE" \
    --cmd "ps (21 live panes here)::$C ps --fleet here" \
    --cmd "down (21 panes here)::$C down $FLEET_HERE"
echo
$C up "$FLEET" --wait >/dev/null
echo "== a send to a member on remote1 vs one here (fleet up)"
$M --runs "$RUNS" \
    --cmd "message send --to l2 (here)::$C message send --fleet hosts --as l1 --to l2 hi" \
    --cmd "message send --to r2 (on remote1)::$C message send --fleet hosts --as l1 --to r2 hi"
sleep 5  # let the previews above drain
echo
echo "== delivery (registry timestamps; $LIVE_RUNS runs, one at a time)"
$R --db "$DB" --runs "$LIVE_RUNS" --label "send --to l3 (here)" \
    -- $C message send --fleet hosts --as l1 --to l3 "hi from the bench"
$R --db "$DB" --runs "$LIVE_RUNS" --label "send --to r3 (on remote1)" \
    -- $C message send --fleet hosts --as l1 --to r3 "hi from the bench"
$C down "$FLEET" >/dev/null
