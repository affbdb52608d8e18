"""Summary runs against a real OpenAI-compatible HTTP server on 127.0.0.1."""

import pytest
from sqlalchemy import select

from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.labeling.llm import LLMConfigError
from lmsys_pipeline_tests.summarizing.conftest import CLUSTERS
from lmsys_pipeline_tests.support.llm import llm, rows
from lmsys_pipeline_tests.support.pipeline_data import summarize


def test_every_cluster_gets_a_row_and_the_ledger_adds_up(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    report = summarize(db, run_id, "gpt-test", **llm(url))
    entry = report.entry
    assert entry.status == "completed" and entry.clusters_done == CLUSTERS
    assert entry.requests == CLUSTERS == len(state.chat_requests)
    assert entry.tokens_in > 0 and entry.tokens_out == 25 * CLUSTERS
    assert entry.estimated_cost_usd is None  # no known price for a self-hosted model
    assert entry.summary_run_id.startswith("summary-test-model-")
    assert 0.0 <= entry.label_accuracy <= 1.0 and entry.label_accuracy_queries > 0
    found = rows(db, entry.summary_run_id)
    assert sorted(r.cluster_id for r in found) == list(range(CLUSTERS))
    for row in found:
        assert row.alias == "gpt-test" and row.model == "openai/test-model"
        assert row.summary == f"{row.title}: {row.description}"
        assert len(row.representative_queries) in range(1, 21)
        assert row.parameters["prompt_version"] == entry.prompt_version
        assert row.parameters["base_url"] == url
    request = state.chat_requests[0]
    assert request["model"] == "test-model"
    assert request["messages"][-1]["role"] == "user"
    assert request["response_format"]["type"] == "json_schema"


def test_known_prices_give_a_cost(clustered, llm_server):
    db, run_id = clustered
    _, url = llm_server
    entry = summarize(
        db, run_id, "priced", **llm(url, price_in_per_mtok=1.0, price_out_per_mtok=2.0)
    ).entry
    assert entry.estimated_cost_usd == pytest.approx(
        (entry.tokens_in * 1.0 + entry.tokens_out * 2.0) / 1e6
    )


def test_429_with_retry_after_is_waited_out(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    state.chat_script = ["429"]
    state.retry_after = "1"
    entry = summarize(db, run_id, "a", **llm(url, concurrency=1)).entry
    assert entry.clusters_done == CLUSTERS and entry.requests == CLUSTERS
    assert len(state.chat_requests) == CLUSTERS + 1
    assert state.arrivals[1] - state.arrivals[0] >= 0.95


def test_500s_and_a_timeout_are_retried(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    state.chat_script = ["500", "500", "timeout"]
    state.timeout_sleep = 2.0
    entry = summarize(db, run_id, "a", **llm(url, concurrency=1, timeout_s=0.5)).entry
    assert entry.status == "completed" and entry.clusters_done == CLUSTERS
    assert len(state.chat_requests) == CLUSTERS + 3


@pytest.mark.parametrize("kind", ["malformed", "missing_field", "vague"])
def test_an_invalid_answer_is_asked_again(clustered, llm_server, kind):
    db, run_id = clustered
    state, url = llm_server
    state.chat_script = [kind]
    entry = summarize(db, run_id, "a", **llm(url, concurrency=1)).entry
    assert entry.status == "completed" and entry.requests == CLUSTERS + 1


def test_failures_are_recorded_without_losing_the_others_and_resumed(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    poisoned: set[str] = set()

    def behaviour(prompt: str) -> str:
        first = prompt.split("\n1. ", 1)[1].split("\n", 1)[0]
        if not poisoned:
            poisoned.add(first)
        if first in poisoned:
            return "refusal" if len(poisoned) == 1 else "ok"
        return "ok"

    state.chat_behaviour = behaviour
    report = summarize(db, run_id, "a", **llm(url, concurrency=1))
    entry = report.entry
    assert entry.status == "partial"
    assert (entry.clusters_done, entry.clusters_failed) == (CLUSTERS - 1, 1)
    [(failed_cluster, reason)] = entry.failures.items()
    assert reason.startswith("the model refused")
    assert entry.requests == CLUSTERS  # a refusal is not asked again

    state.chat_behaviour = None
    before = len(state.chat_requests)
    again = summarize(db, run_id, "a", **llm(url, concurrency=1))
    assert again.resumed and again.newly_labelled == 1
    assert len(state.chat_requests) - before == 1
    assert again.entry.status == "completed" and again.entry.failures == {}
    assert again.entry.summary_run_id == entry.summary_run_id
    assert int(failed_cluster) in {r.cluster_id for r in rows(db, entry.summary_run_id)}


def test_a_cluster_failing_every_retry_is_reported(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    state.chat_script = ["500"] * 3
    entry = summarize(db, run_id, "a", **llm(url, concurrency=1, max_retries=2)).entry
    assert entry.clusters_failed == 1
    assert list(entry.failures.values()) == ["HTTP 500 after every retry"]


def test_a_rejected_key_stops_the_run(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    state.chat_behaviour = lambda prompt: "401"
    with pytest.raises(LLMConfigError, match="HTTP 401"):
        summarize(db, run_id, "a", **llm(url))
    assert len(state.chat_requests) <= 4  # the requests already in flight, no more


def test_requests_per_minute_are_enforced(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    summarize(db, run_id, "a", **llm(url, concurrency=8, rpm=240))
    gaps = [b - a for a, b in zip(state.arrivals, state.arrivals[1:], strict=False)]
    assert len(state.arrivals) == CLUSTERS
    assert min(gaps) >= 0.2  # 240 rpm: one request per 0.25 s, no burst


def test_identical_prompts_are_not_paid_twice(clustered, llm_server):
    db, run_id = clustered
    state, url = llm_server
    first = summarize(db, run_id, "a", **llm(url)).entry
    again = summarize(db, run_id, "b", **llm(url))
    assert again.entry.summary_run_id != first.summary_run_id and again.replaced == []
    assert again.entry.cached_responses == CLUSTERS and again.entry.requests == 0
    assert len(state.chat_requests) == CLUSTERS
    assert {r.title for r in rows(db, first.summary_run_id)} == {
        r.title for r in rows(db, again.entry.summary_run_id)
    }


def test_two_aliases_coexist_and_a_new_model_replaces_only_its_alias(clustered, llm_server):
    db, run_id = clustered
    _, url = llm_server
    offline = summarize(db, run_id, "keywords").entry
    first = summarize(db, run_id, "gpt", **llm(url)).entry
    assert len(rows(db, offline.summary_run_id)) == len(rows(db, first.summary_run_id))
    swapped = summarize(db, run_id, "gpt", **llm(url, model="vllm/other-model"))
    assert not swapped.resumed and swapped.replaced == [first.summary_run_id]
    assert rows(db, first.summary_run_id) == []
    assert len(rows(db, offline.summary_run_id)) == CLUSTERS
    with db.get_session() as session:
        statuses = dict(session.exec(select(SummaryRun.summary_run_id, SummaryRun.status)).all())
    assert statuses == {
        offline.summary_run_id: "completed",
        first.summary_run_id: "replaced",
        swapped.entry.summary_run_id: "completed",
    }


def test_the_offline_summarizer_needs_no_server_and_says_so(clustered):
    db, run_id = clustered
    report = summarize(db, run_id, "kp")
    assert report.entry.model == "local/keyphrase" and report.entry.estimated_cost_usd == 0.0
    assert report.entry.requests == 0 and report.entry.label_accuracy > 1 / 6
    assert {r.model for r in rows(db, report.entry.summary_run_id)} == {"local/keyphrase"}


def test_the_older_keyword_summarizer_is_still_selectable(clustered):
    db, run_id = clustered
    report = summarize(db, run_id, "kw", model="local/keywords")
    assert report.entry.model == "local/keywords" and report.entry.requests == 0
    found = rows(db, report.entry.summary_run_id)
    assert len(found) == CLUSTERS
    assert all(
        r.description.split(" ")[2:6] == ["whose", "most", "distinctive", "terms"]
        or "no distinctive words" in r.description
        for r in found
    )


def test_an_llm_summary_run_resumes_on_both_databases(results_any, llm_server):
    db, [run_id, _] = results_any
    state, url = llm_server
    state.chat_script = ["refusal"]
    first = summarize(db, run_id, "gpt", **llm(url, concurrency=1)).entry
    assert (first.status, first.clusters_failed) == ("partial", 1)
    again = summarize(db, run_id, "gpt", **llm(url, concurrency=1))
    assert again.resumed and again.newly_labelled == 1 and again.entry.status == "completed"
    assert len(state.chat_requests) == 4 + 1
    restarted = summarize(db, run_id, "gpt", **llm(url), restart=True).entry
    assert restarted.cached_responses == 0 and len(state.chat_requests) == 5 + 4
    assert len(rows(db, restarted.summary_run_id)) == 4
