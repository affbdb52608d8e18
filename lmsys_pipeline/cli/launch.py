"""Running an asset through Dagster for a command: the instance of $DAGSTER_HOME, the run in
this process with the command's resources and its progress display, and the one sentence
that says why a run failed."""

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
