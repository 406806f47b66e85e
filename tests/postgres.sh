#!/usr/bin/env bash
# Starts a private PostgreSQL server for the tests of the PostgreSQL registry and exports
# CAFLEET_TEST_POSTGRES_URL for them; `.ci/run` sources it (the registry's tests say
# skipped without the variable, and fail under CI).
#
# Installs Debian's `postgresql` when its server binaries are missing, makes a data folder
# in a temporary directory (`initdb`, trust authentication: it listens on 127.0.0.1 only,
# so only this machine reaches it, on a free private port, with its unix socket in the
# same temporary directory), starts it, and stops it and removes the folder when the shell
# that sourced this exits (an EXIT trap; `cafleet_pg_stop` does the same by hand).
# postgres refuses to run as root: as root the server runs as the `postgres` user (made by
# the Debian package) or `nobody`.
set -euo pipefail

pg_bin=""
for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb && -x $dir/pg_ctl ]] && pg_bin=$dir
done
if [[ -z $pg_bin ]]; then
    echo "installing: postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && pg_bin=$dir
    done
fi
if [[ -z $pg_bin ]]; then
    echo "error: no PostgreSQL server binaries (initdb, pg_ctl) after installing postgresql" >&2
    return 1 2>/dev/null || exit 1
fi

cafleet_pg_dir=$(mktemp -d /tmp/cafleet-pg.XXXXXX)
cafleet_pg_run=()
if [[ $(id -u) == 0 ]]; then
    if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
    chown "$owner" "$cafleet_pg_dir"
    cafleet_pg_run=(runuser -u "$owner" --)
fi
chmod 700 "$cafleet_pg_dir"

# A free port: ask the kernel for one, then hand it to the server.
cafleet_pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${cafleet_pg_run[@]}" "$pg_bin/initdb" -D "$cafleet_pg_dir/data" -U cafleet --auth=trust \
    --encoding=UTF8 --locale=C >"$cafleet_pg_dir/initdb.log" 2>&1 || {
    cat "$cafleet_pg_dir/initdb.log" >&2
    return 1 2>/dev/null || exit 1
}
"${cafleet_pg_run[@]}" "$pg_bin/pg_ctl" -D "$cafleet_pg_dir/data" -l "$cafleet_pg_dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $cafleet_pg_port -k $cafleet_pg_dir -c max_connections=400 -c fsync=off" \
    start >/dev/null || {
    cat "$cafleet_pg_dir/server.log" >&2
    return 1 2>/dev/null || exit 1
}

cafleet_pg_stop() {
    "${cafleet_pg_run[@]}" "$pg_bin/pg_ctl" -D "$cafleet_pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$cafleet_pg_dir"
}
trap cafleet_pg_stop EXIT

export CAFLEET_TEST_POSTGRES_URL="postgres://cafleet@127.0.0.1:$cafleet_pg_port/postgres"
echo "$("$pg_bin/postgres" --version) for the tests at $CAFLEET_TEST_POSTGRES_URL"
