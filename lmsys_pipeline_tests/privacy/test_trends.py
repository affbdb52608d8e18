"""Trends in the published report: conversations per week for each top-level category, small
cells suppressed (and cells that would give them away), no query text."""

import json
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select, update

from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.privacy.publish import HTML_NAME, JSON_NAME, publish
from lmsys_pipeline.privacy.trends import suppress
from lmsys_pipeline.privacy.view import public_view
from lmsys_pipeline_tests.privacy.planted import build_planted, loaded_texts

WEEKS = ("2024-01-01", "2024-01-08", "2024-01-15")  # Mondays


def test_small_cells_are_suppressed_and_so_are_those_that_would_reveal_them():
    assert suppress([23, 11, 2], 5) == [23, None, None]  # 2 alone = total - 34
    assert suppress([4, 4, 30], 5) == [None, None, 30]  # 8 together: no small count
    assert suppress([0, 3, 30], 5) == [0, None, None]
    assert suppress([12, 0, 12], 10) == [12, 0, 12]
    assert suppress([1, 1], 5) == [None, None]


def _week(query_id: int) -> str:
    """Most queries in the first week, a third as many in the second, a few in the third."""
    return WEEKS[2] if query_id % 20 == 0 else WEEKS[1] if query_id % 20 < 7 else WEEKS[0]


def test_published_trends_count_categories_per_week_without_small_cells(
    sqlite_db, minilm, tmp_path
):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path, k=4)
    with db.engine.begin() as connection:
        ids = list(connection.execute(select(Query.id)).scalars())
        for week in WEEKS:
            chosen = [i for i in ids if _week(i) == week]
            at = datetime.fromisoformat(week).replace(hour=12, tzinfo=UTC)
            connection.execute(update(Query).where(Query.id.in_(chosen)).values(created_at=at))
        pairs = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                QueryCluster.run_id == run_id
            )
        ).all()
    minimum = 5
    view = public_view(db, run_id, "kw", min_conversations=minimum)
    trends = view.trends
    assert trends.by == "week" and trends.periods == list(WEEKS)
    public = set(view.folding.public)
    hand = Counter((c if c in public else None, _week(q)) for q, c in pairs)
    assert {row.node_id for row in trends.rows} == {c for c, _ in hand}
    for row in trends.rows:
        truth = [hand[(row.node_id, week)] for week in WEEKS]
        hidden = sum(n for n, shown in zip(truth, row.counts, strict=True) if shown is None)
        assert hidden == 0 or hidden >= minimum, (truth, row.counts)
        for n, shown in zip(truth, row.counts, strict=True):
            assert shown is None or shown == n
            assert shown is not None or n < minimum or hidden - n < minimum
    assert trends.suppressed_cells == sum(s is None for r in trends.rows for s in r.counts) > 0

    out = tmp_path / "out"
    publish(view, out)
    report = json.loads((out / JSON_NAME).read_text())["trends"]
    assert report["periods"] == list(WEEKS)
    titles = {view.fields[n]["title"] for n in public if n in view.fields}
    assert {r["title"] for r in report["rows"]} <= titles | {"Other (small clusters)"}
    assert [r["counts"] for r in report["rows"]] == [r.counts for r in trends.rows]
    assert "fewer than 5 conversations" in report["suppressed_why"]
    page = (out / HTML_NAME).read_text()
    assert "Conversations per week" in page and WEEKS[1] in page and "<script" not in page
    texts = [t for t in loaded_texts(db) if len(t) >= 20]
    for content in (page, json.dumps(report)):
        assert not [t for t in texts if t in content]
