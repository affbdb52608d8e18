"""Every reading path on SQLite and on a real PostgreSQL server."""

import polars as pl

from lmsys_pipeline.outputs.export import export_run
from lmsys_pipeline.outputs.projection import project_run
from lmsys_pipeline.reading.choice import choose_summary_run
from lmsys_pipeline.reading.clusters import cluster_detail, compare_aliases, list_clusters
from lmsys_pipeline.reading.runs import list_runs
from lmsys_pipeline.reading.status import database_status
from lmsys_pipeline_tests.support.pipeline_data import summarize


def test_reading_results_on_both_databases(results_any, tmp_path):
    db, [first, second] = results_any
    summarize(db, second, "kw2", max_queries=5, label_quality_queries=0)
    runs = list_runs(db)
    assert [r.run_id for r in runs] == [second, first]
    assert runs[0].aliases == ["kw", "kw2"] and runs[0].num_queries == 152
    choice = choose_summary_run(db, second)
    assert choice.alias == "kw2"
    rows = list_clusters(db, second, choice, show_examples=2)
    assert len(rows) == 5 and sum(r.size for r in rows) == 152
    detail = cluster_detail(db, second, rows[0].cluster_id, alias="kw", show_queries=3)
    assert detail.size == rows[0].size and len(detail.queries) == 3
    assert len(compare_aliases(db, second, ["kw", "kw2"]).rows) == 5
    for fmt in ("csv", "parquet"):
        assert export_run(db, second, choice, fmt, tmp_path / f"x.{fmt}") == 152
    assert pl.read_parquet(tmp_path / "x.parquet")["cluster_title"].null_count() == 0
    status = database_status(db)
    assert status["rows"]["queries"] == 152 and status["database_bytes"] > 0
    assert status["summary_runs"]["completed"] == 3
    assert len(project_run(db, second, sample=40, method="pca").query_ids) >= 40
