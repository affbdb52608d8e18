import json

import pytest

from lmsys_pipeline.labeling.answers import InvalidAnswer
from lmsys_pipeline.labeling.labels import parse_answer


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
