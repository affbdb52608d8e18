"""Hierarchy runs meeting answers that are no chat completion, and names over the bounds
(items 6 and 7 of issue 27)."""

import pytest
from sqlalchemy import func, select

from lmsys_pipeline.db.hierarchy import ClusterHierarchy, HierarchyRun
from lmsys_pipeline.hierarchy.params import HierarchyInputError
from lmsys_pipeline.labeling.bounds import MAX_CATEGORIES, MAX_TITLE_CHARS
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import build_tree

MODEL = "openai/test-model"


def test_web_pages_for_answers_fail_the_run_in_one_sentence_on_both_databases(
    summarized_any, minilm
):
    db, run_id = summarized_any
    state = ServerState(chat_behaviour=lambda prompt: "html")
    with openai_server(state) as url, pytest.raises(HierarchyInputError) as failed:
        build_tree(db, run_id, "kw", model=MODEL, base_url=url, embedder=minilm, top=3)
    message = str(failed.value)
    assert message.startswith("No parent was proposed for level 1: every request to ")
    assert "(first: HTTP 200 with a web page instead of a chat completion" in message
    with db.engine.connect() as connection:
        [(status, requests, failures)] = connection.execute(
            select(HierarchyRun.status, HierarchyRun.requests, HierarchyRun.failures)
        ).all()
    assert status == "failed" and requests == len(state.chat_requests) == len(failures)


def test_names_and_titles_over_the_bound_are_asked_again_with_a_reminder(sixty, minilm):
    db, run_id = sixty
    state = ServerState(chat_script=["long_title"], long_chars=500)
    with openai_server(state) as url:
        report = build_tree(
            db, run_id, "kw", model=MODEL, base_url=url, embedder=minilm, top=8, concurrency=1
        )
    assert report.entry.status == "completed" and report.entry.failures == {}
    first, again = state.chat_requests[:2]
    assert first["response_format"]["json_schema"]["name"] == "hierarchy_categories"
    assert again["messages"][:-1] == first["messages"]
    reminder = again["messages"][-1]["content"]
    assert "categories.0.name: the name is 500 characters long, more than 120" in reminder
    assert f"with at most {MAX_CATEGORIES} categories" in reminder
    schema = first["response_format"]["json_schema"]["schema"]["properties"]["categories"]
    assert schema["maxItems"] == MAX_CATEGORIES
    name = schema["items"]["properties"]["name"]
    assert "maxLength" not in name and f"{MAX_TITLE_CHARS} characters" in name["description"]
    with db.engine.connect() as connection:
        longest = connection.execute(select(func.max(func.length(ClusterHierarchy.title)))).one()
    assert longest[0] <= MAX_TITLE_CHARS
