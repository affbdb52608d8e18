# Sourced by the make targets: offline model/dataset access and the default data locations.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export DAGSTER_HOME="${DAGSTER_HOME:-$HOME/.lmsys-query-analysis/dagster}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
BIN="${LMSYS_BIN:-$(pwd)/.venv/bin}"  # LMSYS_BIN: another venv's bin folder
export EXPLORER_PORT="${EXPLORER_PORT:-8000}" DAGSTER_PORT="${DAGSTER_PORT:-3000}"
