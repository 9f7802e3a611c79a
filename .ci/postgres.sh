#!/usr/bin/env bash
# Start the OS package's PostgreSQL cluster and create a role that may create test databases.
# Prints the URL the server tests read from LIANGBING_TEST_PG_URL. Runs as root (or with sudo).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${VERSION:-}" ]; then
  VERSION=$(ls /usr/lib/postgresql | sort -n | tail -n 1); CLUSTER=main; PORT=5432; STATUS=down
  $SUDO pg_createcluster "$VERSION" "$CLUSTER" >&2
fi
if [[ "$STATUS" != online* ]]; then
  $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
for _ in $(seq 1 30); do as_postgres pg_isready -q -p "$PORT" && break; sleep 1; done
as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'liangbing') THEN
    CREATE ROLE liangbing LOGIN CREATEDB PASSWORD 'liangbing';
  END IF;
END $$;
SQL
as_postgres psql -q -p "$PORT" -tc "SELECT 1 FROM pg_database WHERE datname = 'liangbing_test'" | grep -q 1 \
  || as_postgres createdb -p "$PORT" -O liangbing -E UTF8 -T template0 --lc-collate=C --lc-ctype=C liangbing_test >&2
echo "postgresql+psycopg://liangbing:liangbing@127.0.0.1:${PORT}/liangbing_test"
