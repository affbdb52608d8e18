"""Titles carried forward on two real runs (``pipeline_data.build_two_runs``): the loopback
LLM server is asked only for the clusters that do not continue a labelled cluster."""

import pytest
from sqlalchemy import select

from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.lineage.runs import compute_lineage
from lmsys_pipeline.summarizing.carry import CARRY_OVERLAP
from lmsys_pipeline.summarizing.params import SummaryInputError
from lmsys_pipeline.summarizing.report import summary_metadata
from lmsys_pipeline_tests.support.llm import llm
from lmsys_pipeline_tests.support.pipeline_data import K, summarize


def _rows(db, summary_run_id: str) -> dict[int, ClusterSummary]:
    with db.get_session() as session:
        found = session.exec(
            select(ClusterSummary).where(ClusterSummary.summary_run_id == summary_run_id)
        ).scalars()
        return {row.cluster_id: row for row in found}


@pytest.mark.parametrize("two_runs_any", ["sqlite", "postgresql"], indirect=True)
def test_only_clusters_that_do_not_continue_are_sent_to_the_model(two_runs_any, llm_server):
    db, run_a, run_b = two_runs_any
    state, url = llm_server
    before = summarize(db, run_a, "gpt", label_quality_queries=0, **llm(url))
    assert len(state.chat_requests) == K
    earlier = _rows(db, before.entry.summary_run_id)
    # what should carry, from the lineage computed independently of the summary run
    continuing = {
        r.to_cluster_id: r
        for r in compute_lineage(db, run_a, run_b).relations
        if r.kind == "continues" and r.overlap >= CARRY_OVERLAP
    }
    assert 0 < len(continuing) < K

    carried = summarize(db, run_b, "gpt", carry_from="gpt", label_quality_queries=0, **llm(url))
    assert len(state.chat_requests) - K == K - len(continuing)
    entry = carried.entry
    assert entry.status == "completed" and entry.clusters_done == K
    assert entry.requests == K - len(continuing)
    assert set(entry.parameters["carried"]) == {str(c) for c in continuing}
    rows = _rows(db, entry.summary_run_id)
    for cluster, relation in continuing.items():
        source = earlier[relation.from_cluster_id]
        assert (rows[cluster].title, rows[cluster].description) == (
            source.title,
            source.description,
        )
        assert rows[cluster].num_queries == relation.to_size
        assert rows[cluster].parameters["carried_from"] == {
            "from_run_id": run_a,
            "from_cluster_id": relation.from_cluster_id,
            "summary_run_id": before.entry.summary_run_id,
            "overlap": relation.overlap,
        }
    for cluster in set(range(K)) - set(continuing):
        assert "carried_from" not in rows[cluster].parameters
    metadata = summary_metadata(carried)
    assert metadata["clusters_carried"] == metadata["requests_saved"] == len(continuing)
    assert metadata["carried_from"] == [
        {"from_run_id": run_a, "summary_run_id": before.entry.summary_run_id}
    ]

    # off by default: another alias without --carry-from labels every cluster itself (the
    # clusters just asked about come from the prompt cache, the carried ones are asked now)
    asked = len(state.chat_requests)
    plain = summarize(db, run_b, "gpt-plain", label_quality_queries=0, **llm(url))
    assert len(state.chat_requests) - asked == len(continuing)
    assert plain.entry.cached_responses == K - len(continuing)
    assert "carried" not in plain.entry.parameters


def test_carrying_needs_an_earlier_run_and_the_alias_on_it(two_runs):
    db, run_a, run_b = two_runs
    with pytest.raises(SummaryInputError, match="no earlier run"):
        summarize(db, run_a, "kw", carry_from="kw", label_quality_queries=0)
    with pytest.raises(UserError, match="has no summary run with alias nope"):
        summarize(db, run_b, "kw", carry_from="nope", label_quality_queries=0)
