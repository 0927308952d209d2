#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: Debian's `postgresql` binaries,
# a data folder in a temp dir, listening on 127.0.0.1 only, on a free port, trust auth for the
# local user. Never touches the system's own cluster.
#
#   eval "$(bash scripts/pg.sh start)"   # sets FIREPOINT_TEST_PG (a URL) and FIREPOINT_PG_DIR
#   bash scripts/pg.sh stop "$FIREPOINT_PG_DIR"
#
# As root (PostgreSQL refuses to run as root) the cluster runs as the `postgres` user.
set -euo pipefail
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 3
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
  start)
    dir="$(mktemp -d /tmp/firepoint-pg.XXXXXX)"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    # a free port: ask the kernel for one
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    user="$( [ "$(id -u)" = 0 ] && echo postgres || id -un )"
    as_owner "$bindir/initdb" -D "$dir/data" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=on" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export FIREPOINT_PG_DIR=$dir"
    echo "export FIREPOINT_TEST_PG=postgres://$user@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir="${2:?pg.sh stop DIR}"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg.sh start | stop DIR" >&2
    exit 2
    ;;
esac
