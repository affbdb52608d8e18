"""Answers that are no chat completion (a web page, nothing) and answers over the bounds, on
both databases, against the loopback OpenAI-compatible server (items 6 and 7 of issue 27)."""

import pytest
from sqlalchemy import func, select

from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.db.summaries import LLMResponse, SummaryRun
from lmsys_pipeline.labeling.bounds import MAX_ANSWER_BYTES, MAX_TITLE_CHARS
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.params import SummaryInputError
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.runner import summarize_run
from lmsys_pipeline_tests.support.llm import llm
from lmsys_pipeline_tests.support.pipeline_data import summarize

CLUSTERS = 4  # results_any (build_results): its first run has k = 4


@pytest.fixture
def four(results_any):
    """150 sample queries in a KMeans run of 4 clusters, on SQLite or PostgreSQL."""
    db, [run_id, _] = results_any
    return db, run_id


def _stored_sizes(db) -> tuple[int, int, int]:
    """The longest title and description stored, and the longest cached answer."""
    with db.engine.connect() as connection:
        title, description = connection.execute(
            select(
                func.max(func.length(ClusterSummary.title)),
                func.max(func.length(ClusterSummary.description)),
            )
        ).one()
        answers = connection.execute(select(LLMResponse.response)).scalars().all()
    return title, description, max((len(str(a)) for a in answers), default=0)


def test_html_and_empty_answers_are_failed_requests_with_their_cause(four, llm_server):
    db, run_id = four
    state, url = llm_server
    state.chat_script = ["html", "empty"]
    entry = summarize(db, run_id, "gpt", **llm(url, concurrency=1)).entry
    assert (entry.status, entry.clusters_total, entry.clusters_failed) == ("partial", 4, 2)
    assert entry.requests == CLUSTERS  # neither is asked again: the server would answer alike
    reasons = sorted(entry.failures.values())
    assert reasons[0].startswith("HTTP 200 with a web page instead of a chat completion")
    assert reasons[1].startswith("HTTP 200 with an empty body")
    again = summarize(db, run_id, "gpt", **llm(url, concurrency=1))
    assert again.resumed and again.entry.status == "completed"
    assert len(state.chat_requests) == CLUSTERS + 2


def test_a_title_over_the_bound_is_asked_again_with_a_reminder(four, llm_server):
    db, run_id = four
    state, url = llm_server
    state.chat_script, state.long_chars = ["long_title"], 500
    entry = summarize(db, run_id, "gpt", **llm(url, concurrency=1)).entry
    assert entry.status == "completed" and entry.requests == CLUSTERS + 1
    first, again = state.chat_requests[:2]
    assert again["messages"][:-1] == first["messages"]
    reminder = again["messages"][-1]
    assert reminder["role"] == "user"
    assert "title: the title is 500 characters long, more than 120" in reminder["content"]
    assert "at most 10 words and 120 characters" in reminder["content"]
    assert _stored_sizes(db)[0] <= MAX_TITLE_CHARS


def test_a_five_million_character_title_fails_its_cluster_and_nothing_large_is_kept(
    four, llm_server
):
    """The issue's server: a 5,000,000-character one-word title, twice for one cluster. The
    answer is read no further than 1 MiB, asked again once, then that cluster fails."""
    db, run_id = four
    state, url = llm_server
    state.chat_script = ["long_title", "long_title"]
    entry = summarize(db, run_id, "gpt", **llm(url, concurrency=1)).entry
    assert (entry.status, entry.clusters_done, entry.clusters_failed) == ("partial", 3, 1)
    assert entry.requests == CLUSTERS + 1
    [reason] = entry.failures.values()
    assert reason == f"invalid answer: the answer was larger than {MAX_ANSWER_BYTES:,} bytes"
    title, description, cached = _stored_sizes(db)
    assert title <= MAX_TITLE_CHARS and description <= 1_000 and cached < 2_000
    assert len(state.chat_requests[1]["messages"]) == len(state.chat_requests[0]["messages"]) + 1


def test_an_error_inside_the_run_closes_its_ledger_row(four, llm_server):
    """Whatever stops a run (here the label-quality step), its row does not stay running."""
    db, run_id = four
    _, url = llm_server
    server = ThroughputSettings(base_url=url, max_retries=0)
    prepared = prepare_summary(db, run_id, "gpt", {"model": "openai/m"}, server)

    def broken(name: str):
        raise RuntimeError("the embedder is gone")

    with pytest.raises(RuntimeError, match="the embedder is gone"):
        summarize_run(db, prepared, load_embedder=broken)
    with db.get_session() as session:
        entry = session.get(SummaryRun, prepared.summary_run_id)
    # Every cluster has its row, but the run did not finish: the same command resumes it.
    assert (entry.status, entry.clusters_total, entry.clusters_done) == ("partial", 4, 4)
    assert entry.finished_at is not None


@pytest.mark.parametrize(
    "kind, cause",
    [
        ("html", "HTTP 200 with a web page"),
        # A server refusing the schema (e.g. a keyword it does not support) says so itself.
        ("400", "HTTP 400: Invalid schema for response_format: 'x' is not permitted."),
    ],
)
def test_every_answer_unusable_fails_the_run_naming_the_cause(four, llm_server, kind, cause):
    db, run_id = four
    state, url = llm_server
    state.chat_behaviour = lambda prompt: kind
    with pytest.raises(SummaryInputError) as failed:
        summarize(db, run_id, "gpt", **llm(url))
    assert f"every request to {url} failed (first: {cause}" in str(failed.value)
    with db.get_session() as session:
        [entry] = session.execute(select(SummaryRun).where(SummaryRun.alias == "gpt")).scalars()
    assert (entry.status, entry.clusters_total, entry.clusters_failed) == ("failed", 4, 4)
    assert len(state.chat_requests) == 4  # neither is asked again
