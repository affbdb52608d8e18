"""Whose answers the cache serves (item 9 of issue 27): the server is part of every cached
answer's key, ``restart`` asks again, and answers cached before the server was in the key are
never served. On both databases, against two loopback OpenAI-compatible servers."""

import hashlib
import json

import pytest
from sqlalchemy import select

from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.params import PROMPT_VERSION
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.prompts import plan_jobs
from lmsys_pipeline.summarizing.runner import summarize_run
from lmsys_pipeline.summarizing.selection import build_briefs, load_run_view
from lmsys_pipeline_tests.support.llm import llm, rows
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import summarize

CLUSTERS = 4


@pytest.fixture
def four(results_any, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    db, [run_id, _] = results_any
    return db, run_id


def _titles(db, entry) -> set[str]:
    return {r.title for r in rows(db, entry.summary_run_id)}


def test_the_same_model_name_on_another_server_is_asked_there(four):
    db, run_id = four
    first, second = ServerState(title_prefix="First"), ServerState(title_prefix="Second")
    with openai_server(first) as here, openai_server(second) as there:
        a = summarize(db, run_id, "a", **llm(here, model="openai/m")).entry
        b = summarize(db, run_id, "b", **llm(there, model="openai/m")).entry
        assert (b.requests, b.cached_responses) == (CLUSTERS, 0)
        assert {t.split()[0] for t in _titles(db, a)} == {"First"}
        assert {t.split()[0] for t in _titles(db, b)} == {"Second"}
        restarted = summarize(db, run_id, "b", **llm(there, model="openai/m"), restart=True)
    assert len(first.chat_requests) == CLUSTERS and len(second.chat_requests) == 2 * CLUSTERS
    assert {t.split()[0] for t in _titles(db, restarted.entry)} == {"Second"}


def test_restart_asks_again_and_its_answers_replace_the_cached_ones(four):
    db, run_id = four
    state = ServerState(title_prefix="Before")
    with openai_server(state) as url:
        summarize(db, run_id, "a", **llm(url))
        state.title_prefix = "After"
        restarted = summarize(db, run_id, "a", **llm(url), restart=True).entry
        assert (restarted.requests, restarted.cached_responses) == (CLUSTERS, 0)
        other = summarize(db, run_id, "b", **llm(url)).entry
    assert (other.requests, other.cached_responses) == (0, CLUSTERS)
    assert len(state.chat_requests) == 2 * CLUSTERS
    assert {t.split()[0] for t in _titles(db, other)} == {"After"}
    with db.engine.connect() as connection:
        cached = connection.execute(select(LLMResponse.response)).scalars().all()
    assert len(cached) == CLUSTERS and {a["title"].split()[0] for a in cached} == {"After"}


def test_credentials_query_and_a_trailing_slash_do_not_split_the_cache(four):
    db, run_id = four
    state = ServerState()
    with openai_server(state) as url:
        summarize(db, run_id, "a", **llm(url))
        spelled = url.replace("http://", "http://user:s3cret@") + "/?token=s3cret"
        again = summarize(db, run_id, "b", **llm(spelled)).entry
    assert (again.requests, again.cached_responses) == (0, CLUSTERS)
    assert len(state.chat_requests) == CLUSTERS
    assert again.parameters["base_url"] == url + "/"  # stored without the secrets


def _old_key(model: str, body: dict) -> str:
    """How answers were keyed before the server was part of the key (issue 27)."""
    payload = json.dumps(
        {"request": body, "model": model, "prompt_version": PROMPT_VERSION},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def test_answers_cached_without_their_server_are_not_served(four):
    """A database from before: its cached answers do not say which server gave them, so no
    server gets them; they stay readable in llm_responses."""
    db, run_id = four
    state = ServerState()
    with openai_server(state) as url:
        prepared = prepare_summary(
            db, run_id, "a", {"model": "openai/m", "label_quality_queries": 0},
            ThroughputSettings(base_url=url),
        )  # fmt: skip
        view = load_run_view(db, run_id)
        briefs = build_briefs(db, view, prepared.params, view.cluster_ids)
        jobs = plan_jobs(briefs.values(), prepared.endpoint, prepared.params)
        with db.get_session() as session:
            session.add_all(
                LLMResponse(
                    prompt_hash=_old_key("openai/m", job.body),
                    model="openai/m",
                    response={"title": "Old server title", "description": "Old. Answer."},
                )
                for job in jobs
            )
            session.commit()
        entry = summarize_run(db, prepared).entry
    assert (entry.requests, entry.cached_responses) == (CLUSTERS, 0)
    assert "Old server title" not in _titles(db, entry)
    with db.engine.connect() as connection:
        assert len(connection.execute(select(LLMResponse.prompt_hash)).all()) == 2 * CLUSTERS
