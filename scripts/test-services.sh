#!/usr/bin/env bash
# Starts the services the test-suite needs (idempotent). Each later service adds itself here.
#
# PostgreSQL 15 (Debian's cluster "15 main"): started if down; a password role and a test
# database are created once. The store's tests run against it through
# CANBAO_TEST_DATABASE_URL (default below); see docs/store.md.
set -euo pipefail

PG_VERSION="${CANBAO_PG_VERSION:-15}"
PG_ROLE="${CANBAO_PG_ROLE:-canbao_test}"
PG_PASSWORD="${CANBAO_PG_PASSWORD:-canbao_test}"
PG_DB="${CANBAO_PG_DB:-canbao_test}"

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "未安装 PostgreSQL（PostgreSQL is not installed）：请先运行 scripts/system-deps.sh" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$PG_VERSION" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$PG_VERSION" main start
fi
for _ in $(seq 1 30); do
  if su postgres -c "psql -Atqc 'SELECT 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -Atq $*"; }
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'\"")" != "1" ]; then
  psql_admin "-c \"CREATE ROLE $PG_ROLE LOGIN PASSWORD '$PG_PASSWORD' CREATEDB\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\"")" != "1" ]; then
  psql_admin "-c \"CREATE DATABASE $PG_DB OWNER $PG_ROLE\""
fi
echo "PostgreSQL $PG_VERSION: postgresql+psycopg://$PG_ROLE:***@127.0.0.1:5432/$PG_DB"
