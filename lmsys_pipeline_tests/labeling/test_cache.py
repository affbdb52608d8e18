"""The answer cache shared by every alias run: a cached answer is served only while it still
passes validation, and a restarted run takes only answers cached since it began."""

from datetime import timedelta

from sqlalchemy import update

from lmsys_pipeline.db.models import utc_now
from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.labeling.cache import from_cache, store_answer
from lmsys_pipeline.labeling.labels import REMINDER, parse_answer
from lmsys_pipeline.labeling.llm import Job

GOOD = {"title": "Resetting a card PIN", "description": "Users want a PIN. They ask how."}
VAGUE = {"title": "Various questions", "description": "Many things. Of all kinds."}


def _job(key: str) -> Job:
    return Job(key, {"messages": []}, f"hash-{key}", parse_answer, REMINDER)


def test_valid_cached_answers_are_served_and_the_rest_asked(sqlite_db):
    with sqlite_db.get_session() as session:
        store_answer(session, "hash-good", "openai/m", GOOD, 10, 5)
        store_answer(session, "hash-vague", "openai/m", VAGUE, 10, 5)  # under older rules
        session.commit()
    jobs = [_job("good"), _job("vague"), _job("new")]
    found, pending = from_cache(sqlite_db, jobs)
    assert [(o.job.key, o.answer.title) for o in found] == [("good", GOOD["title"])]
    assert [job.key for job in pending] == ["vague", "new"]


def test_a_fresh_run_takes_only_answers_cached_since_it_began_and_replaces_older(sqlite_db):
    with sqlite_db.get_session() as session:
        store_answer(session, "hash-good", "openai/m", GOOD, 10, 5)
        session.commit()
    with sqlite_db.engine.begin() as connection:
        an_hour_ago = utc_now() - timedelta(hours=1)
        connection.execute(update(LLMResponse).values(created_at=an_hour_ago))
    since = utc_now() - timedelta(minutes=1)
    found, pending = from_cache(sqlite_db, [_job("good")], since)
    assert (found, [job.key for job in pending]) == ([], ["good"])
    newer = {**GOOD, "title": "Changing a card PIN"}
    with sqlite_db.get_session() as session:
        store_answer(session, "hash-good", "openai/m", newer, 10, 5)  # no horizon: kept
        session.commit()
        assert session.get(LLMResponse, "hash-good").response == GOOD
        store_answer(session, "hash-good", "openai/m", newer, 10, 5, replace_before=since)
        session.commit()
    found, _ = from_cache(sqlite_db, [_job("good")], since)
    assert found[0].answer.title == "Changing a card PIN"
