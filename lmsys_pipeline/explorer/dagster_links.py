"""Links from the explorer to Dagster: the Dagster run that last materialized each
clustering run."""

import os
import threading
from pathlib import Path
from typing import Any


class DagsterRuns:
    """The Dagster run that last materialized each clustering run, read from the instance of
    $DAGSTER_HOME when one exists (the explorer never creates one)."""

    def __init__(self) -> None:
        self._instance: Any = None
        self._lock = threading.Lock()

    def _open(self):
        from lmsys_pipeline.dagster_home import DEFAULT_DAGSTER_HOME

        home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser()
        if not (home / "dagster.yaml").is_file():
            return None
        import dagster as dg

        return dg.DagsterInstance.from_config(str(home))

    def latest(self, run_ids: list[str]) -> dict[str, str]:
        """Clustering run id → Dagster run id, for the runs that have a materialization."""
        if not run_ids:
            return {}
        with self._lock:
            if self._instance is None:
                self._instance = self._open() or False
            instance = self._instance
        if not instance:
            return {}
        import dagster as dg

        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("cluster_run"), asset_partitions=run_ids),
            limit=max(100, 5 * len(run_ids)),
        ).records
        found: dict[str, str] = {}
        for record in records:  # newest first
            partition = record.partition_key
            if partition and partition not in found:
                found[partition] = record.run_id
        return found
