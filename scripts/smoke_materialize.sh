#!/usr/bin/env bash
# `dagster asset materialize` as CI would call it: a fresh DAGSTER_HOME and database, then the
# rows are counted.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HF_HUB_OFFLINE=1 DAGSTER_HOME="$work/dagster_home" LMSYS_DB_URL="sqlite:///$work/queries.db"
mkdir -p "$DAGSTER_HOME" && cp dagster.yaml "$DAGSTER_HOME/"
.venv/bin/dagster asset materialize -m lmsys_pipeline.definitions --select lmsys_queries \
  > "$work/materialize.log" 2>&1 || { tail -40 "$work/materialize.log"; exit 1; }
count="$(.venv/bin/python -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from queries').fetchone()[0])" "$work/queries.db")"
if [ "$count" != "16645" ]; then
  echo "smoke: expected 16645 queries after materializing lmsys_queries, found $count"; exit 1
fi
echo "smoke: dagster asset materialize lmsys_queries -> $count queries"
