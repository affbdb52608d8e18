"""The privacy gate end to end on both databases: quotes withheld, small clusters folded,
planted personal data found in a title, the check failing and ``publish`` refusing."""

import json

import pytest
from sqlalchemy import select, update

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.models import ClusterSummary, Query
from lmsys_pipeline.lineage.runs import compute_lineage, write_lineage
from lmsys_pipeline.privacy.publish import HTML_NAME, JSON_NAME, publish, render_html
from lmsys_pipeline.privacy.report import privacy_checks, privacy_metadata
from lmsys_pipeline.privacy.threshold import OTHER_TITLE, PrivacyError
from lmsys_pipeline.privacy.view import public_view
from lmsys_pipeline_tests.privacy.planted import build_planted, loaded_texts
from lmsys_pipeline_tests.support.pipeline_data import summarize


def _largest_public_cluster(view) -> int:
    return max(
        (n for n in view.folding.public if view.tree.nodes[n].level == 0),
        key=lambda n: view.folding.conversations[n],
    )


def test_published_folder_holds_aggregates_only_and_the_gate_refuses_a_finding(
    any_db, minilm, tmp_path
):
    db = any_db
    run_id = build_planted(db, minilm, tmp_path)
    view = public_view(db, run_id, "kw", min_conversations=10)
    # The offline descriptions quote the planted queries: found as stored, withheld as shown.
    assert view.stored_findings and not view.findings
    assert view.quotes_withheld
    outcomes = privacy_checks(view)
    assert all(o.passed for o in outcomes.values()), outcomes
    assert outcomes["audited_scores_at_least_3"].metadata["note"] == "not audited"

    out = tmp_path / "published"
    written = publish(view, out)
    assert sorted(p.name for p in written) == [HTML_NAME, JSON_NAME]
    files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    long_texts = [t for t in loaded_texts(db) if len(t) >= 20]
    assert len(long_texts) > 100
    for name, content in files.items():
        assert not [t for t in long_texts if t in content], name
    with db.engine.connect() as connection:
        conversation_ids = list(connection.execute(select(Query.conversation_id)).scalars())
    assert not [c for c in conversation_ids if c in files[JSON_NAME]]
    report = json.loads(files[JSON_NAME])
    assert report["conversations"] == 120 + 24
    shown = sum(n["conversations"] for n in report["tree"]) + report["other"]["conversations"]
    assert shown == report["conversations"]

    # A title that names an e-mail address: found, the check fails, publish refuses naming it.
    cluster = _largest_public_cluster(view)
    with db.engine.begin() as connection:
        connection.execute(
            update(ClusterSummary)
            .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster)
            .values(title="Invoices for jane.roe3@example.com")
        )
    view = public_view(db, run_id, "kw", min_conversations=10)
    assert not privacy_checks(view)["no_finding_in_public_fields"].passed
    assert privacy_metadata(view)["findings_in_public_fields"] == 1
    with pytest.raises(PrivacyError) as refused:
        publish(view, tmp_path / "refused")
    assert f"cluster {cluster} (email in its title)" in str(refused.value)
    assert "jane.roe3" not in str(refused.value)
    assert not (tmp_path / "refused").exists()


def test_a_high_threshold_folds_clusters_and_lists_them(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path)
    sizes = sorted(public_view(db, run_id, "kw", 1).folding.conversations.values())
    threshold = sizes[len(sizes) // 2]  # about half the clusters are smaller
    view = public_view(db, run_id, "kw", min_conversations=threshold)
    folded = [f for f in view.folding.folded]
    assert folded and all(f.conversations < threshold for f in folded)
    assert privacy_checks(view)["public_clusters_meet_threshold"].passed
    publish(view, tmp_path / "out")
    report = json.loads((tmp_path / "out" / JSON_NAME).read_text())
    assert len(report["withheld"]) == len(folded)
    assert report["other"]["conversations"] == sum(f.conversations for f in folded)
    assert {w["folded_into"] for w in report["withheld"]} == {OTHER_TITLE}
    folded_titles = [view.tree.nodes[f.node_id].title for f in folded]
    page = (tmp_path / "out" / HTML_NAME).read_text()
    assert not [t for t in folded_titles if t and t in page]
    assert OTHER_TITLE in page
    assert report["lineage"] == {}  # no earlier run


def test_lineage_against_the_earlier_run_is_published_in_numbers(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    earlier = build_planted(db, minilm, tmp_path)
    later = register_run(db, KMeansParams(n_clusters=7))
    materialize_run(db, later.run_id)
    summarize(db, later.run_id, "kw", label_quality_queries=0)
    write_lineage(db, compute_lineage(db, earlier, later.run_id))
    publish(public_view(db, later.run_id, "kw"), tmp_path / "out")
    lineage = json.loads((tmp_path / "out" / JSON_NAME).read_text())["lineage"]
    assert lineage["from_run"] == earlier
    kinds = {k: n for k, n in lineage.items() if k != "from_run"}
    assert kinds and set(kinds) <= {"continues", "split", "merged", "new", "gone"}
    assert f"Compared with {earlier}" in (tmp_path / "out" / HTML_NAME).read_text()


def test_the_page_escapes_every_text():
    report = {
        "run_id": "r",
        "alias": "<b>a</b>",
        "labels_by": "local/keywords",
        "min_conversations": 10,
        "conversations": 12,
        "tree": [
            {
                "level": 0,
                "title": "<script>alert(1)</script>",
                "description": "a & b",
                "conversations": 12,
                "share": 1.0,
                "small_clusters_folded_in": 0,
                "conversations_folded_in": 0,
                "children": [],
            }
        ],
        "other": {"title": OTHER_TITLE, "nodes": 0, "conversations": 0, "share": 0.0},
        "withheld": [],
        "quotes_withheld": 0,
    }
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert OTHER_TITLE not in page  # nothing was folded into it
    assert "&lt;b&gt;a&lt;/b&gt;" in page and "a &amp; b" in page
