import json

import pytest

from lmsys_pipeline.summarizing.bounds import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from lmsys_pipeline.summarizing.params import SummaryParams
from lmsys_pipeline.summarizing.prompts import (
    InvalidAnswer,
    build_messages,
    parse_answer,
    prompt_hash,
    request_body,
)
from lmsys_pipeline.summarizing.providers import resolve_endpoint
from lmsys_pipeline.summarizing.selection import ClusterBrief
from lmsys_pipeline_tests.openai_server import strict_schema_fault

BRIEF = ClusterBrief(
    3,
    120,
    ["How do I reset my PIN?", "Change card PIN"],
    [11, 12],
    {5: ["Where is my card?"], 7: ["Top up by bank transfer"]},
)


def answer(**fields) -> str:
    return json.dumps(fields)


def test_a_valid_answer_becomes_title_description_and_summary():
    label = parse_answer(
        answer(
            title=" Resetting a card PIN. ",
            description="Users want a new PIN. They ask how, briefly.",
        )
    )
    assert label.title == "Resetting a card PIN"
    assert label.summary == "Resetting a card PIN: Users want a new PIN. They ask how, briefly."


def test_json_in_a_code_fence_is_accepted():
    text = "```json\n" + answer(title="PIN resets", description="A. B.") + "\n```"
    assert parse_answer(text).title == "PIN resets"


def test_a_longer_description_is_cut_to_two_sentences():
    label = parse_answer(answer(title="PIN resets", description="One. Two. Three. Four."))
    assert label.description == "One. Two."


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty"),
        ("Sure! Here is the label.", "no JSON object"),
        ('{"title": "PIN", "description": ', "no JSON object"),
        ('{"title": "PIN", "description": "x",}', "not valid JSON"),
        (answer(title="PIN resets"), "description: the field is missing"),
        (answer(title="Various banking questions", description="A. B."), "vague word 'various'"),
        (answer(title="General help", description="A. B."), "vague word 'general'"),
        (answer(title="PIN resets", description="Only one sentence here"), "two sentences"),
        (answer(title=" ".join(["word"] * 11), description="A. B."), "more than 10 words"),
        ("[1, 2]", "no JSON object"),
        (answer(title="P" * 121, description="A. B."), "121 characters long, more than 120"),
        (
            answer(title="PIN resets", description=f"{'X' * 600}. {'Y' * 600}."),
            "1,203 characters long, more than 1,000",
        ),
        (answer(title="   ", description="A. B."), "the title is empty"),
    ],
)
def test_unusable_answers_say_what_is_wrong(content, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        parse_answer(content)


def test_the_prompt_ends_with_a_user_message_holding_queries_and_neighbours():
    messages = build_messages(BRIEF)
    assert messages[-1]["role"] == "user"
    text = messages[-1]["content"]
    assert "1. How do I reset my PIN?" in text and "120 user queries" in text
    assert "Neighbouring cluster 1:\n1. Where is my card?" in text
    assert "various" in text  # the ban is spelled out to the model


def test_the_request_asks_for_the_json_schema_and_the_hash_keys_the_exact_request():
    params = SummaryParams(model="openai/m")
    body = request_body("m", build_messages(BRIEF), params)
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["title", "description"]
    server = "http://gpu-box:8000/v1"

    def key(model: str, request: dict) -> str:
        return prompt_hash(model, request, server=server)

    same = key("openai/m", request_body("m", build_messages(BRIEF), params))
    assert key("openai/m", body) == same
    assert key("vllm/m", body) != same
    other = ClusterBrief(3, 120, ["Change card PIN"], [12])
    assert key("openai/m", request_body("m", build_messages(other), params)) != same
    hotter = params.model_copy(update={"temperature": 0.7})
    assert key("openai/m", request_body("m", build_messages(BRIEF), hotter)) != same


def test_the_server_is_part_of_the_key_without_its_credentials():
    """Item 9 of issue 27: one model name on two servers is two sources of answers; the same
    server written with a key in its URL, a query or a trailing slash is one."""
    body = request_body("m", build_messages(BRIEF), SummaryParams(model="openai/m"))
    here = resolve_endpoint("openai/m", "http://127.0.0.1:8000/v1")
    there = resolve_endpoint("openai/m", "http://127.0.0.1:9000/v1")
    assert prompt_hash("openai/m", body, server=here.server) != prompt_hash(
        "openai/m", body, server=there.server
    )
    for spelled in (
        "http://user:s3cret@127.0.0.1:8000/v1/",
        "HTTP://127.0.0.1:8000/v1?api_key=s3cret#x",
    ):
        assert resolve_endpoint("openai/m", spelled).server == "http://127.0.0.1:8000/v1"
    assert resolve_endpoint("openai/m", None, api_key="k").server == "https://api.openai.com/v1"


def test_the_schema_states_the_bounds_in_words_that_strict_mode_accepts():
    body = request_body("m", build_messages(BRIEF), SummaryParams())
    fields = body["response_format"]["json_schema"]["schema"]["properties"]
    assert f"{MAX_TITLE_CHARS} characters" in fields["title"]["description"]
    assert f"{MAX_DESCRIPTION_CHARS:,} characters" in fields["description"]["description"]
    assert strict_schema_fault(body) is None  # OpenAI refuses maxLength in strict mode
