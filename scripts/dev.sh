#!/usr/bin/env bash
# The Dagster UI on 127.0.0.1:3000 over the same DAGSTER_HOME as the CLI and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
set -m  # a backgrounded `dagster dev` otherwise ignores SIGINT/SIGTERM
exec "$BIN/dagster" dev -w workspace.yaml -h 127.0.0.1 -p 3000
