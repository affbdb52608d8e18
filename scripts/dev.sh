#!/usr/bin/env bash
# The Dagster UI (127.0.0.1:$DAGSTER_PORT, default 3000) and the explorer (`lmsys serve` on
# 127.0.0.1:$EXPLORER_PORT, default 8000) side by side, over the same DAGSTER_HOME and database
# as the CLI and the demo; materializations link to the explorer's pages and the explorer to
# Dagster's. Ctrl-C (or either one stopping) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
set -m  # each in its own process group: a backgrounded `dagster dev` otherwise ignores SIGINT/SIGTERM
export LMSYS_EXPLORER_URL="${LMSYS_EXPLORER_URL:-http://127.0.0.1:$EXPLORER_PORT}"
export LMSYS_DAGSTER_URL="${LMSYS_DAGSTER_URL:-http://127.0.0.1:$DAGSTER_PORT}"

"$BIN/lmsys" serve --host 127.0.0.1 --port "$EXPLORER_PORT" &
EXPLORER=$!
"$BIN/dagster" dev -w workspace.yaml -h 127.0.0.1 -p "$DAGSTER_PORT" &
DAGSTER=$!
stop() {
  trap - EXIT INT TERM
  kill "$EXPLORER" "$DAGSTER" 2>/dev/null || true
  wait "$EXPLORER" "$DAGSTER" 2>/dev/null || true
}
trap stop EXIT INT TERM
echo "Dagster UI: $LMSYS_DAGSTER_URL   explorer: $LMSYS_EXPLORER_URL   (Ctrl-C stops both)"
wait -n "$EXPLORER" "$DAGSTER" || true
