"""Arrival times outside the plausible window (before 2000, or later than a day from now) are
set aside by ``lmsys trends`` and counted, on both databases: those set aside at load (the
row is kept, its time is not) and those an older version stored."""

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import update
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import bundled_sample_path, open_source
from lmsys_pipeline.reading.trends import trends

MONDAY = datetime(2024, 1, 1, 9, 30)
GOOD = 10


def _source(path, rows: list[dict]) -> str:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def test_implausible_times_are_set_aside_and_counted(any_db, minilm, tmp_path):
    db = any_db
    table = pq.read_table(bundled_sample_path(), columns=["conversation"]).slice(0, GOOD + 3)
    texts = [conversation[0]["content"] for conversation in table.column(0).to_pylist()]
    times = [MONDAY + timedelta(days=2 * i) for i in range(GOOD)]
    times += [datetime(9999, 12, 31), datetime(1970, 1, 1)]  # a sentinel and epoch zero
    stamped = [
        {"conversation_id": f"t-{i}", "conversation": [{"role": "user", "content": texts[i]}],
         "timestamp": at}
        for i, at in enumerate(times)
    ]  # fmt: skip
    report = ingest_batches(db, open_source(_source(tmp_path / "s.parquet", stamped)).batches(50))
    old = [{"conversation_id": "old", "conversation": [{"role": "user", "content": texts[-1]}]}]
    ingest_batches(db, open_source(_source(tmp_path / "o.parquet", old)).batches(50))
    with db.engine.begin() as connection:  # as a version without the window stored it
        connection.execute(
            update(Query)
            .where(Query.conversation_id == "old")
            .values(extra_metadata={"timestamp": "9999-06-01T00:00:00"})
        )
    embed_pending(db, minilm)
    run = register_run(db, KMeansParams(n_clusters=2, reduction="pca"))
    materialize_run(db, run.run_id)

    weekly = trends(db, run.run_id, None, by="week")

    assert weekly.periods == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert sum(c.total for c in weekly.clusters) == GOOD
    assert weekly.set_aside == 3
    assert report.notes["timestamp_out_of_range"] == 2 and report.inserted == GOOD + 2
    url = str(db.engine.url.render_as_string(hide_password=False))
    shown = CliRunner().invoke(app, ["trends", run.run_id, "--db-url", url, "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.output)
    assert payload["set_aside"] == 3 and payload["window"][0] == "2000-01-01T00:00:00"
    table = CliRunner().invoke(app, ["trends", run.run_id, "--db-url", url])
    assert "3 queries set aside" in table.output
