"""A compute command on a (clustering run x alias) asset, the same for ``lmsys summarize`` and
``lmsys merge-clusters``: what differs is the ``AliasRunKind`` each passes
(``labeling/alias_run.py``)."""

from typing import Any

from lmsys_pipeline.cli.console import console, error_console, print_json
from lmsys_pipeline.cli.launch import dagster_instance, materialize, require_success
from lmsys_pipeline.cli.options import database, database_resource
from lmsys_pipeline.labeling.alias_run import AliasRunKind
from lmsys_pipeline.labeling.measures import LABEL_MEASURES


def run_alias_asset(
    kind: AliasRunKind,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    *,
    llm: Any,
    restart: bool,
    db_url: str | None,
    verbose: bool,
    quiet: bool,
    as_json: bool,
) -> Any:
    """Holds the alias's lease from before the run is prepared (a second process on the alias
    refuses at once), prepares it (``prepare_partition``: the ledger entry and the partition),
    materializes the partition with the given ``overrides`` (None values left out) and the
    entry's id, and reports the ledger row: a warning when it is partial, then JSON, or the
    kind's heading and one line per field. Returns the row, or None when JSON was printed;
    exits with one line when the run failed."""
    from lmsys_pipeline.defs.summarizing.alias_run import prepare_partition
    from lmsys_pipeline.defs.summarizing.partitions import summary_partition_key

    db, key = database(db_url), kind.ledger.key
    with kind.lease(db, run_id, alias), dagster_instance() as instance:
        prepared = prepare_partition(
            kind, db, instance, run_id, alias, overrides, llm, restart=restart
        )
        result = materialize(
            instance,
            kind.asset,
            {**{k: v for k, v in overrides.items() if v is not None}, key: prepared.entry_id},
            verbose=verbose,
            resources={"database": database_resource(db_url), "llm": llm},
            partition_key=summary_partition_key(run_id, alias),
            quiet=quiet,
            as_json=as_json,
        )
    require_success(result, f"{alias} on {run_id}: ")
    with db.get_session() as session:
        entry = session.get(kind.ledger.table, prepared.entry_id)
    if entry.status == "partial":
        error_console.print(
            f"{kind.failed_of(entry)} ({'; '.join(sorted(set(entry.failures.values())))}): "
            "run the same command again to ask only for them.",
            style="yellow",
        )
    values = {field: getattr(entry, field) for field in kind.fields}
    measures = (entry.parameters or {}).get(LABEL_MEASURES)
    if measures:
        values[LABEL_MEASURES] = measures
    if as_json:
        identity = {"run_id": run_id, "alias": alias, key: prepared.entry_id}
        print_json(
            {
                "dagster_run_id": result.run_id,
                **identity,
                "model": entry.model,
                **values,
                "failures": entry.failures,
            }
        )
        return None
    console.print(kind.heading_of(entry, result.run_id), style="bold")
    for field, value in values.items():
        console.print(f"  {field}: {value}")
    return entry
