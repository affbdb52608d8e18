import json

import pytest

from lmsys_pipeline.summarizing.params import SummaryParams
from lmsys_pipeline.summarizing.prompts import (
    InvalidAnswer,
    build_messages,
    parse_answer,
    prompt_hash,
    request_body,
)
from lmsys_pipeline.summarizing.selection import ClusterBrief

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
    same = prompt_hash("openai/m", request_body("m", build_messages(BRIEF), params))
    assert prompt_hash("openai/m", body) == same
    assert prompt_hash("vllm/m", body) != same
    other = ClusterBrief(3, 120, ["Change card PIN"], [12])
    assert prompt_hash("openai/m", request_body("m", build_messages(other), params)) != same
    hotter = params.model_copy(update={"temperature": 0.7})
    assert prompt_hash("openai/m", request_body("m", build_messages(BRIEF), hotter)) != same
