"""A snapshot of the asset graph: a change to assets, partitions, dependencies and their
partition mappings, checks, jobs, schedules, sensors, resources or pools shows in review.

After an intended change, rewrite the snapshot with
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest lmsys_pipeline_tests/test_asset_graph.py`` and commit it.
"""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from lmsys_pipeline.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(definition: dg.PartitionsDefinition | None) -> Any:
    if definition is None:
        return None
    if isinstance(definition, dg.MultiPartitionsDefinition):
        return {
            "multi": {d.name: _partitions(d.partitions_def) for d in definition.partitions_defs}
        }
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return {"dynamic": definition.name}
    if isinstance(definition, dg.StaticPartitionsDefinition):
        return {"static": len(definition.get_partition_keys())}
    return {type(definition).__name__: str(definition)}


def _mapping(mapping: Any) -> str | None:
    return None if mapping is None else repr(mapping)


def graph_description() -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        node = defs.resolve_assets_def(spec.key).node_def
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "kinds": sorted(spec.kinds),
            "partitions": _partitions(spec.partitions_def),
            "deps": {
                dep.asset_key.to_user_string(): _mapping(
                    graph.get_partition_mapping(spec.key, dep.asset_key)
                    if spec.partitions_def is not None
                    else None
                )
                for dep in spec.deps
            },
            "automation": spec.automation_condition.get_label()
            if spec.automation_condition
            else None,
            "pool": getattr(node, "pool", None),
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(key)
        checks[f"{key.asset_key.to_user_string()}:{key.name}"] = {"blocking": spec.blocking}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "partitions": _partitions(job.partitions_def),
            "nodes": sorted(node.name for node in job.graph.node_defs),
            "pools": sorted({n.pool for n in job.graph.node_defs if getattr(n, "pool", None)}),
        }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in (defs.resolve_schedule_def(s.name) for s in defs.schedules or [])
    }
    sensors = {
        s.name: {
            "type": type(s).__name__,
            "default_status": s.default_status.value,
            "targets": sorted(t.job_name for t in s.targets) if s.targets else [],
        }
        for s in (defs.resolve_sensor_def(s.name) for s in defs.sensors or [])
    }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": {name: type(r).__name__ for name, r in sorted((defs.resources or {}).items())},
        "executor": defs.executor.name if defs.executor else None,
    }


def test_the_asset_graph_matches_its_snapshot():
    described = graph_description()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert described == expected, (
        "The asset graph changed: review the difference, then rewrite the snapshot with "
        "UPDATE_SNAPSHOTS=1 (see this module's docstring)."
    )
