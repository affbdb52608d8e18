import csv
import json
import re

import polars as pl
import pytest

from lmsys_pipeline.outputs.cluster_map import build_map
from lmsys_pipeline.outputs.export import COLUMNS, MARK_COLUMNS, export_run
from lmsys_pipeline.outputs.map_png import map_png, png_markdown
from lmsys_pipeline.outputs.projection import project_run
from lmsys_pipeline.reading.choice import choose_summary_run
from lmsys_pipeline.reading.status import database_status


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_writes_one_row_per_query_even_with_two_summary_runs(results, tmp_path, fmt):
    db, run_id = results
    choice = choose_summary_run(db, run_id, alias="kw")
    path = tmp_path / f"out.{fmt}"
    assert export_run(db, run_id, choice, fmt, path) == 600
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    elif fmt == "json":
        rows = json.loads(path.read_text(encoding="utf-8"))
    else:
        rows = pl.read_parquet(path).to_dicts()
    assert len(rows) == 600 and len({r["query_id"] for r in rows}) == 600
    assert list(rows[0]) == [*COLUMNS, *MARK_COLUMNS]
    assert all(r["cluster_title"] for r in rows)


def test_export_without_a_summary_run_leaves_titles_empty(results, tmp_path):
    db, run_id = results
    assert export_run(db, run_id, None, "parquet", tmp_path / "x.parquet") == 600
    frame = pl.read_parquet(tmp_path / "x.parquet")
    assert frame["cluster_title"].null_count() == 600
    assert frame.schema["confidence"] == pl.Float64


def test_status_counts_every_table(results):
    db, _ = results
    found = database_status(db)
    assert found["rows"]["queries"] == 600 and found["rows"]["cluster_summaries"] == 12
    assert found["embeddings"] == [{"model": "all-MiniLM-L6-v2", "dimension": 384, "queries": 600}]
    assert found["summary_runs"] == {"total": 2, "completed": 2}
    assert found["database_bytes"] > 100_000


def test_the_projection_keeps_every_cluster_and_is_seeded(results):
    db, run_id = results
    first = project_run(db, run_id, sample=50, method="pca")
    assert set(first.cluster_ids.tolist()) == set(range(6))
    assert first.xy.shape == (len(first.query_ids), 2)
    again = project_run(db, run_id, sample=50, method="pca")
    assert (again.query_ids == first.query_ids).all()
    png = map_png(first, title="t")
    assert png.startswith(b"\x89PNG") and len(png) < 200_000
    assert png_markdown(png, "map").startswith("![map](data:image/png;base64,")


def test_the_map_is_self_contained_with_one_point_per_sampled_query(results, tmp_path):
    db, run_id = results
    path = tmp_path / "map.html"
    choice = choose_summary_run(db, run_id, alias="kw")
    written = build_map(db, run_id, choice, path, sample=200, method="tsne")
    page = path.read_text(encoding="utf-8")
    points = sum(len(ids.split(",")) for ids in re.findall(r'"customdata":\[([0-9,]+)\]', page))
    assert points == written["points"] >= 200
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="?https?:', page)
    assert page.count("<li data-cluster=") == 6
    assert "Plotly.newPlot" in page and choice.summary_run_id in page
