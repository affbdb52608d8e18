"""LLM hierarchy runs against the loopback OpenAI-compatible server, on real clusters (600
sample queries in 60 KMeans clusters, titled by the offline summarizer)."""

import re
import socket

import pytest
from sqlalchemy import select

from lmsys_pipeline.db.hierarchy import ClusterHierarchy, HierarchyRun
from lmsys_pipeline.hierarchy.prompts import NONE_FITS
from lmsys_pipeline.hierarchy.validation import tree_checks
from lmsys_pipeline.outputs.hierarchy import check_rows, stored_rows
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import build_tree, summarize

MODEL = "openai/test-model"
THREE_LEVELS = {"levels": 3, "top": 3, "neighborhood_size": 20}


def _tree(db, hierarchy_run_id: str) -> list[tuple]:
    with db.engine.connect() as connection:
        return connection.execute(
            select(
                ClusterHierarchy.cluster_id,
                ClusterHierarchy.parent_cluster_id,
                ClusterHierarchy.level,
                ClusterHierarchy.children_ids,
                ClusterHierarchy.title,
            )
            .where(ClusterHierarchy.hierarchy_run_id == hierarchy_run_id)
            .order_by(ClusterHierarchy.cluster_id)
        ).all()


def _failed_checks(db, report) -> set[str]:
    rows = check_rows(stored_rows(db, report.entry.hierarchy_run_id))
    cluster_ids = {n.node_id for n in report.tree.level(0)}
    outcomes = tree_checks(rows, cluster_ids, report.targets)
    return {name for name, outcome in outcomes.items() if not outcome.passed}


def _kinds(state: ServerState) -> dict[str, int]:
    found: dict[str, int] = {}
    for request in state.chat_requests:
        name = request["response_format"]["json_schema"]["name"]
        found[name] = found.get(name, 0) + 1
    return found


def test_a_three_level_tree_over_sixty_clusters_resumes_from_the_cache(sixty, minilm):
    db, run_id = sixty
    state, events = ServerState(), []
    with openai_server(state) as url:
        report = build_tree(
            db,
            run_id,
            "kw",
            model=MODEL,
            base_url=url,
            embedder=minilm,
            on_progress=events.append,
            **THREE_LEVELS,
        )
        asked = len(state.chat_requests)
        # Progress: each step's requests counted as answers are stored, level by level.
        assert {(e.stage, e.unit) for e in events} == {("hierarchy", "requests")}
        assert {e.phase.split()[1] for e in events} == {"1", "2", "3"}
        assert all(e.done <= e.total for e in events)
        assert any(0 < e.done < e.total for e in events)
        assert sum(e.done for e in events if e.done == e.total) >= 60
        entry = report.entry
        assert entry.status == "completed" and entry.failures == {}
        assert entry.level_sizes[0] == 60 and len(entry.level_sizes) == 4  # three levels
        assert report.targets == [22, 8, 3] and entry.top_size == len(report.tree.level(3))
        assert _failed_checks(db, report) == set()
        assert entry.requests == asked and entry.tokens_in > 0
        kinds = _kinds(state)
        assert set(kinds) >= {"hierarchy_categories", "hierarchy_assign", "hierarchy_rename"}
        assert kinds["hierarchy_assign"] >= 60 + 22  # every child of levels 1 and 2
        assign = next(
            r
            for r in state.chat_requests
            if r["response_format"]["json_schema"]["name"] == "hierarchy_assign"
        )
        assert NONE_FITS in assign["messages"][-1]["content"]
        enum = assign["response_format"]["json_schema"]["schema"]["properties"]["category"]
        assert enum["enum"][-1] == NONE_FITS and len(enum["enum"]) <= 12 + 1
        first_tree = _tree(db, entry.hierarchy_run_id)
        assert {row.title for row in first_tree if row.level == 0} >= {
            n.title for n in report.tree.level(0)
        }

        again = build_tree(db, run_id, "kw", base_url=url, embedder=minilm)
        assert len(state.chat_requests) == asked  # every answer came from the cache
        assert again.resumed and again.entry.hierarchy_run_id == entry.hierarchy_run_id
        assert again.entry.cached_responses == asked
        assert _tree(db, entry.hierarchy_run_id) == first_tree


def test_none_of_these_fits_keeps_orphans_at_their_level(sixty, minilm):
    db, run_id = sixty
    refused = ("Card", "Transfer")

    def behaviour(prompt: str) -> str:
        """Assignments of level-0 clusters whose title starts with a refused word: none."""
        child = re.search(r"A cluster of [\d,]+ user requests:\n(.+?):", prompt)
        return "none" if child and child.group(1).startswith(refused) else "ok"

    state = ServerState(chat_behaviour=behaviour)
    with openai_server(state) as url:
        report = build_tree(db, run_id, "kw", model=MODEL, base_url=url, embedder=minilm, top=8)
    orphans = report.tree.orphans()
    assert orphans and all(n.level == 0 and n.parent is None for n in orphans)
    assert all(n.title.startswith(refused) for n in orphans)
    refusable = [n for n in report.tree.level(0) if n.title.startswith(refused)]
    assert len(orphans) == len(refusable) > 0
    assert report.entry.orphans == len(orphans) and report.entry.status == "completed"
    assert _failed_checks(db, report) == set()
    with db.engine.connect() as connection:
        stored = connection.execute(
            select(ClusterHierarchy.cluster_id).where(
                ClusterHierarchy.parent_cluster_id.is_(None), ClusterHierarchy.level == 0
            )
        ).scalars()
        assert set(stored) == {n.node_id for n in orphans}


def test_malformed_answers_are_asked_again_and_429_and_500_are_survived(sixty, minilm):
    db, run_id = sixty
    # One request at a time, so the script meets the requests in a known order.
    script = ["malformed", "ok", "429", "ok", "500", "ok", "missing_field", "ok", "vague"]
    state = ServerState(chat_script=list(script))
    with openai_server(state) as url:
        report = build_tree(
            db, run_id, "kw", model=MODEL, base_url=url, embedder=minilm, top=8, concurrency=1
        )
    entry = report.entry
    assert entry.status == "completed" and entry.failures == {}
    assert _failed_checks(db, report) == set()
    # 429 and 500 are retried inside the client (another HTTP request, the same asked
    # request); the malformed, incomplete and vague answers were each asked again.
    assert len(state.chat_requests) == entry.requests + 2
    proposals = [
        r
        for r in state.chat_requests
        if r["response_format"]["json_schema"]["name"] == "hierarchy_categories"
    ]
    # The malformed first answer, asked again with what was wrong and the limits.
    assert proposals[1]["messages"][:-1] == proposals[0]["messages"]
    assert "Your previous answer could not be used" in proposals[1]["messages"][-1]["content"]


def test_two_aliases_keep_two_hierarchies_and_a_new_setting_replaces_only_its_own(sixty):
    db, run_id = sixty
    first = build_tree(db, run_id, "kw", top=8)
    second = build_tree(db, run_id, "kw2", top=6)
    assert first.entry.summary_run_id != second.entry.summary_run_id
    replaced = build_tree(db, run_id, "kw", top=5)
    assert replaced.replaced == [first.entry.hierarchy_run_id] and not replaced.resumed
    with db.engine.connect() as connection:
        per_run = dict(
            connection.execute(
                select(HierarchyRun.hierarchy_run_id, HierarchyRun.status).where(
                    HierarchyRun.run_id == run_id
                )
            ).all()
        )
        rows = dict(
            connection.execute(
                select(ClusterHierarchy.hierarchy_run_id, ClusterHierarchy.id).where(
                    ClusterHierarchy.level == 0
                )
            ).all()
        )
    assert per_run[first.entry.hierarchy_run_id] == "replaced"
    assert set(rows) == {second.entry.hierarchy_run_id, replaced.entry.hierarchy_run_id}
    assert replaced.entry.top_size <= 5 and second.entry.top_size <= 6


@pytest.mark.parametrize("use_llm", [False, True], ids=["offline", "llm"])
def test_hierarchies_on_both_databases(summarized_any, minilm, use_llm):
    db, run_id = summarized_any
    state = ServerState()
    with openai_server(state) as url:
        fields = {"model": MODEL, "base_url": url} if use_llm else {}
        report = build_tree(db, run_id, "kw", embedder=minilm, levels=2, top=3, **fields)
    assert report.entry.status == "completed"
    assert _failed_checks(db, report) == set()
    assert len(report.entry.level_sizes) >= 2 and report.entry.level_sizes[0] == 25
    assert bool(state.chat_requests) == use_llm


def test_hdbscan_noise_stays_out_of_the_tree(embedded_db):
    from lmsys_pipeline.clustering.params import HDBSCANParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.db.counts import cluster_sizes

    db = embedded_db
    run = register_run(db, HDBSCANParams(min_cluster_size=5))
    materialize_run(db, run.run_id)
    summarize(db, run.run_id, "kw", label_quality_queries=0)
    sizes = cluster_sizes(db, run.run_id)
    assert -1 in sizes and len(sizes) > 10
    report = build_tree(db, run.run_id, "kw", top=3)
    noise = report.tree.nodes[-1]
    assert noise.level == 0 and noise.parent is None
    assert noise not in report.tree.orphans() and report.tree.roots()[-1] is noise
    rows = check_rows(stored_rows(db, report.entry.hierarchy_run_id))
    outcomes = tree_checks(rows, set(sizes), report.targets)
    assert all(outcome.passed for outcome in outcomes.values()), outcomes
    assert report.entry.clusters_total == len(sizes)


def test_a_rejected_key_or_a_dead_server_fails_the_run_in_one_sentence(sixty, minilm):
    from lmsys_pipeline.hierarchy.params import HierarchyInputError
    from lmsys_pipeline.labeling.llm import LLMConfigError

    db, run_id = sixty
    # Every request is refused: with only the first one refused, the others in flight were
    # answered and cached, so the run below could finish from the cache (issue 23's flake).
    with (
        openai_server(ServerState(chat_behaviour=lambda prompt: "401")) as url,
        pytest.raises(LLMConfigError, match="HTTP 401"),
    ):
        build_tree(db, run_id, "kw", model=MODEL, base_url=url, embedder=minilm, top=8)
    # A port held bound but never listening refuses every connection, and no other test's
    # server can take it meanwhile (a closed server's port could be reused under xdist).
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{holder.getsockname()[1]}/v1"
        with pytest.raises(HierarchyInputError, match=r"every request to http://127\.0\.0\.1"):
            build_tree(
                db, run_id, "kw", model=MODEL, base_url=dead, embedder=minilm, top=8, max_retries=0
            )
    with db.engine.connect() as connection:
        statuses = connection.execute(select(HierarchyRun.status)).scalars().all()
    assert statuses == ["failed"]  # the second run resumed the first (same settings)
