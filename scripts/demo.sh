#!/usr/bin/env bash
# The pipeline on the bundled sample, offline. Data goes where LMSYS_DB_URL and DAGSTER_HOME
# say (default ~/.lmsys-query-analysis/), so `make dev` afterwards shows these runs in the UI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
TMP_OUT=$(mktemp)
trap 'rm -f "$TMP_OUT"' EXIT

echo "== Loading the bundled sample (16,645 real prompts in the LMSYS layout) =="
"$BIN/lmsys" load
echo
echo "== Embedding every query with all-MiniLM-L6-v2 (offline; identical texts embedded once) =="
"$BIN/lmsys" embed
echo
echo "== Semantic search: 'my card was stolen' =="
"$BIN/lmsys" search "my card was stolen" --top-k 5
echo
echo "== Clustering run: HDBSCAN with its defaults (UMAP to 5 dimensions, min cluster size"
echo "   max(10, queries / 400); noise is cluster -1): its largest clusters and central queries =="
"$BIN/lmsys" cluster hdbscan --description "make demo"
echo
echo "== Clustering run: KMeans with k = 40 after UMAP (a cluster_run partition keyed by its run id) =="
"$BIN/lmsys" cluster kmeans --n-clusters 40 --description "make demo" | tee "$TMP_OUT"
RUN_ID=$(head -n 1 "$TMP_OUT" | cut -d ' ' -f 1)
MAP="$(dirname "$DAGSTER_HOME")/map-$RUN_ID.html"
echo
echo "Dagster instance: $DAGSTER_HOME   (make dev opens it on http://127.0.0.1:3000)"
echo "Explore: lmsys runs | lmsys list-clusters $RUN_ID --show-examples 2 | lmsys inspect $RUN_ID 0"
echo
echo "== Summary run 'keyphrase' of $RUN_ID: the offline keyphrase summarizer (no LLM, no key) =="
"$BIN/lmsys" summarize "$RUN_ID" --alias keyphrase
echo
echo "== Hierarchy of $RUN_ID over the 'keyphrase' titles: the offline baseline (no LLM, no key) =="
"$BIN/lmsys" merge-clusters "$RUN_ID" --alias keyphrase
echo
echo "== The tree (lmsys show-hierarchy $RUN_ID --alias keyphrase) =="
"$BIN/lmsys" show-hierarchy "$RUN_ID" --alias keyphrase
echo
echo "== The cluster map of $RUN_ID (t-SNE of 3,000 queries, coloured by the top level) =="
"$BIN/lmsys" map "$RUN_ID" --alias keyphrase -o "$MAP"
echo "Cluster map (open in a browser, works offline): $MAP"
echo
echo "== Explore it in a browser =="
echo "make dev starts the Dagster UI (http://127.0.0.1:$DAGSTER_PORT) and the explorer side by side;"
echo "or the explorer alone: $BIN/lmsys serve --port $EXPLORER_PORT"
echo "Then open http://127.0.0.1:$EXPLORER_PORT/runs/$RUN_ID (runs, tree, map, clusters, search, edits)."
