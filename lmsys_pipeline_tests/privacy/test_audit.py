"""The auditor against a loopback OpenAI-compatible server: scores, a malformed answer asked
again, a 429 retried, failed requests left unscored and resumed from the cache."""

from lmsys_pipeline.labeling.providers import resolve_endpoint
from lmsys_pipeline.privacy.audit import AuditSettings, audit_fields
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server


def _score(prompt: str) -> dict:
    return {"score": 1 if "Alice Smith" in prompt else 5, "reason": "One sentence."}


FIELDS = {i: {"title": f"Topic {i}", "description": f"Requests about topic {i}."} for i in range(5)}
FIELDS[7] = {"title": "Alice Smith's visa letters", "description": "Letters for one person."}


def test_scores_retries_and_reasks(sqlite_db):
    state = ServerState(chat_script=["429", "malformed"], chat_label=_score)
    with openai_server(state) as url:
        endpoint = resolve_endpoint("openai/auditor", url, api_key="sk-test")
        result = audit_fields(sqlite_db, FIELDS, endpoint, AuditSettings(concurrency=1))
    assert result.scores == {0: 5, 1: 5, 2: 5, 3: 5, 4: 5, 7: 1}
    assert not result.failed and result.cached == 0
    assert len(state.chat_requests) == len(FIELDS) + 2  # the 429 and the malformed answer
    assert result.as_metadata()["audited"] == 6


def test_failed_requests_are_unscored_and_a_second_run_asks_only_those(sqlite_db):
    failing = ServerState(chat_script=["500", "500"], chat_label=_score)
    settings = AuditSettings(concurrency=1, max_retries=0)
    with openai_server(failing) as url:
        endpoint = resolve_endpoint("openai/auditor", url, api_key="sk-test")
        first = audit_fields(sqlite_db, FIELDS, endpoint, settings)
        assert len(first.failed) == 2 and len(first.scores) == len(FIELDS) - 2
        assert "500" in next(iter(first.failed.values()))
        # The same server again (what a resumed run finds): only the two unanswered are asked.
        before = len(failing.chat_requests)
        second = audit_fields(sqlite_db, FIELDS, endpoint, settings)
    assert second.cached == len(FIELDS) - 2 and not second.failed
    assert len(failing.chat_requests) - before == 2
    assert second.scores == {0: 5, 1: 5, 2: 5, 3: 5, 4: 5, 7: 1}
