"""Running an asset through Dagster for a command: the instance of $DAGSTER_HOME, the run in
this process with the command's resources and its progress display, and the one sentence
that says why a run failed."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lmsys_pipeline.cli.app import fail
from lmsys_pipeline.cli.console import error_console
from lmsys_pipeline.cli.failures import run_failure_message
from lmsys_pipeline.cli.progress import progress_display


def materialization_metadata(result: Any, asset_name: str) -> dict[str, Any]:
    from dagster import AssetKey

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == AssetKey(asset_name):
            return {key: value.value for key, value in materialization.metadata.items()}
    return {}


@contextmanager
def dagster_instance() -> Iterator[Any]:
    """$DAGSTER_HOME's instance (created with the project's settings if new), after closing
    the runs of killed ``lmsys`` processes so their pool slots are free."""
    import dagster as dg

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.orphaned_runs import close_orphaned_runs

    with dg.DagsterInstance.from_config(str(ensure_dagster_home())) as instance:
        for run_id in close_orphaned_runs(instance):
            error_console.print(f"Closed run {run_id}: its process was killed.")
        yield instance


def materialize(
    instance: Any,
    asset_name: str,
    config: dict[str, Any],
    *,
    verbose: bool,
    resources: dict[str, Any],
    partition_key: Any = None,
    quiet: bool = False,
    as_json: bool = False,
) -> Any:
    """Runs one asset (and its checks) in this process, recorded in ``instance``, with the
    project's resources and the command's ``resources`` in their place, showing its progress
    on stderr (``cli/progress.py``: nothing when ``quiet``, plain lines with ``as_json``).
    A run stopped by Ctrl-C ends failed in Dagster and raises ``KeyboardInterrupt`` here."""
    import dagster as dg

    from lmsys_pipeline.definitions import defs
    from lmsys_pipeline.defs.resources import ProgressResource
    from lmsys_pipeline.orphaned_runs import process_tags

    pools = defs.resolve_asset_graph().get(dg.AssetKey(asset_name)).assets_def.node_def.pools
    wait_for_free_slots(instance, pools, quiet=quiet)

    with progress_display(error_console, quiet=quiet, plain=as_json) as display:
        shown = {}
        if display is not None:
            # The same object must reach the asset: a configured resource would be rebuilt
            # from its fields, without the display.
            shown["progress"] = dg.ResourceDefinition.hardcoded_resource(
                ProgressResource().with_display(display)
            )
        with_resources = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            resources={**(defs.resources or {}), **resources, **shown},
            executor=defs.executor,
        )
        result = with_resources.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset_name)],
            partition_key=partition_key,
            tags=process_tags(),
            run_config={
                "ops": {asset_name: {"config": config}},
                "loggers": {
                    "console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}
                },
            },
            raise_on_error=False,
        )
        if was_interrupted(result):
            raise KeyboardInterrupt
    return result


def wait_for_free_slots(
    instance: Any, pools: set[str], *, quiet: bool, poll_s: float = 0.5
) -> None:
    """Waits, before the run starts, until each pool the asset runs in has a free slot.

    Dagster's in-process executor looks for Ctrl-C and SIGTERM only between steps, so a step
    queued for a slot held elsewhere could only be killed; waiting here, in plain Python, keeps
    both working. A slot taken between this check and the step's claim is waited for inside
    Dagster, as before."""
    said = False
    while busy := {pool: holders for pool in pools if (holders := _slot_holders(instance, pool))}:
        if not said and not quiet:
            for pool, holders in busy.items():
                error_console.print(
                    f"Waiting for a free slot in pool {pool} (held by run "
                    f"{', '.join(holders)}); Ctrl-C stops this command."
                )
            said = True
        time.sleep(poll_s)


def _slot_holders(instance: Any, pool: str) -> list[str]:
    """The runs holding ``pool``'s slots when none is free; [] when one is (or it has none
    yet: the first claim makes them)."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    if not info.slot_count or len(info.claimed_slots) < info.slot_count:
        return []
    return sorted({slot.run_id for slot in info.claimed_slots})


def was_interrupted(result: Any) -> bool:
    """Whether Ctrl-C stopped the run: Dagster turns SIGINT into a step failure."""
    return any(
        event.is_step_failure
        and event.event_specific_data.error is not None
        and event.event_specific_data.error.cls_name
        in ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
        for event in result.all_events
    )


def require_success(result: Any, context: str = "") -> None:
    if not result.success:
        fail(f"{context}{run_failure_message(result)}")
