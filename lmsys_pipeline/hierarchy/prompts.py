"""The hierarchy prompts (after Clio): propose parents for a neighbourhood, merge near-duplicate
candidates, assign a child to its best parent (or none), rename a parent from its children.

Every answer is strict JSON under a schema and validated here; ``PROMPT_VERSION`` is part of
every cache key, so an old answer is never served for a new prompt. Each prompt ends in a user
message. Names, titles and descriptions have the summarizer's bounds (``labeling/bounds.py``),
in the schemas and in validation, and a proposal holds at most ``MAX_CATEGORIES`` categories.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, field_validator

from lmsys_pipeline.hierarchy.params import PROMPT_VERSION, HierarchyParams
from lmsys_pipeline.labeling.answers import (
    InvalidAnswer,
    json_schema_format,
    parse_json_answer,
    prompt_hash,
    request_body,
)
from lmsys_pipeline.labeling.bounds import (
    MAX_CATEGORIES,
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    MAX_TITLE_WORDS,
    bounded_description,
)
from lmsys_pipeline.labeling.labels import (
    PRIVACY_INSTRUCTION,
    REMINDER,
    SCHEMA,
    ClusterLabel,
    label_schema,
    parse_answer,
    specific_name,
)
from lmsys_pipeline.labeling.llm import Job
from lmsys_pipeline.labeling.providers import Endpoint

NONE_FITS = "none of these fits"
SYSTEM = (
    "You organise clusters of first messages that users sent to LLM chat assistants into a "
    "hierarchy of broader categories that an analyst can browse. A category must be specific "
    "enough to tell apart from its siblings and broad enough to hold several clusters. "
    + PRIVACY_INSTRUCTION
)
CATEGORY = label_schema("name", "One or two sentences.")
PROPOSE_FORMAT = json_schema_format(
    "hierarchy_categories",
    {
        "type": "object",
        "properties": {
            "categories": {"type": "array", "items": CATEGORY, "maxItems": MAX_CATEGORIES}
        },
        "required": ["categories"],
        "additionalProperties": False,
    },
)
MERGE_FORMAT = json_schema_format("hierarchy_merge", CATEGORY)
RENAME_FORMAT = json_schema_format("hierarchy_rename", SCHEMA)  # title, description
CATEGORY_REMINDER = (
    f"Keep each name to at most {MAX_TITLE_WORDS} words and {MAX_TITLE_CHARS} characters and "
    f"each description to one or two sentences of at most {MAX_DESCRIPTION_CHARS:,} "
    f"characters, with at most {MAX_CATEGORIES} categories."
)


@dataclass(frozen=True)
class Member:
    """A node as a prompt shows it."""

    title: str
    description: str
    size: int


class Category(BaseModel):
    name: str
    description: str

    @field_validator("name")
    @classmethod
    def _specific(cls, value: str) -> str:
        return specific_name(value, "name")

    @field_validator("description")
    @classmethod
    def _present(cls, value: str) -> str:
        value = bounded_description(value)
        if not value:
            raise ValueError("the description is empty")
        return value


class Proposal(BaseModel):
    categories: list[Category]

    @field_validator("categories")
    @classmethod
    def _some(cls, value: list[Category]) -> list[Category]:
        if not value:
            raise ValueError("no category was proposed")
        if len(value) > MAX_CATEGORIES:
            raise ValueError(f"more than {MAX_CATEGORIES} categories were proposed")
        return value


class Choice(BaseModel):
    category: str


def _listed(members: list[Member]) -> str:
    return "\n".join(
        f"{i}. {m.title} ({m.size:,} queries): {m.description}" for i, m in enumerate(members, 1)
    )


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def propose_messages(members: list[Member], contrast: list[str], wanted: int) -> list[dict]:
    parts = [f"Clusters of user requests (title, size, description):\n{_listed(members)}"]
    if contrast:
        listed = "\n".join(f"- {title}" for title in contrast)
        parts.append(
            "For contrast, the most similar clusters outside this group (do not make "
            f"categories only for these):\n{listed}"
        )
    parts.append(
        f"Propose up to {wanted} broader categories so that every cluster above fits one of "
        'them; fewer when the clusters share fewer themes. Each category needs a "name" of '
        "at most 10 words (never 'various', 'general' or 'miscellaneous') and a one- or "
        'two-sentence "description" of what its clusters ask for. Answer with the JSON object '
        '{"categories": [{"name": ..., "description": ...}]} only.'
    )
    return _messages("\n\n".join(parts))


def merge_messages(candidates: list[Category]) -> list[dict]:
    listed = "\n".join(f"- {c.name}: {c.description}" for c in candidates)
    return _messages(
        "These candidate categories were proposed for neighbouring groups of clusters and mean "
        f"nearly the same thing:\n{listed}\n\nWrite the one category that covers all of "
        'them: a "name" of at most 10 words and a one- or two-sentence "description". Answer '
        "with the JSON object only."
    )


def assign_messages(child: Member, choices: list[Category]) -> list[dict]:
    listed = "\n".join(f"- {c.name}: {c.description}" for c in choices)
    return _messages(
        f"A cluster of {child.size:,} user requests:\n{child.title}: {child.description}\n\n"
        f"Which of these categories is the best home for it?\n{listed}\n\nAnswer with the "
        'JSON object {"category": <the exact name>}. If none of them is a good home, answer '
        f'{{"category": "{NONE_FITS}"}}: never force a cluster into a category that does not '
        "fit."
    )


def rename_messages(name: str, children: list[Member]) -> list[dict]:
    return _messages(
        f"These clusters of user requests were grouped under the category {name!r}:\n"
        f"{_listed(children)}\n\nWrite a JSON object with two fields for the group as it now "
        'is. "title": at most 10 words naming what all of them ask for; never use words like '
        "'various', 'general' or 'miscellaneous'. \"description\": exactly two sentences, the "
        "first on what users want, the second on what sets this group apart. Answer with the "
        "JSON object only."
    )


def assign_format(choices: list[Category]) -> dict[str, Any]:
    names = [c.name for c in choices] + [NONE_FITS]
    return json_schema_format(
        "hierarchy_assign",
        {
            "type": "object",
            "properties": {"category": {"type": "string", "enum": names}},
            "required": ["category"],
            "additionalProperties": False,
        },
    )


def parse_proposal(content: str | None) -> Proposal:
    return parse_json_answer(content, Proposal)


def parse_category(content: str | None) -> Category:
    return parse_json_answer(content, Category)


def choice_parser(choices: list[Category]):
    """Parses an assignment: the chosen category's exact name, or ``NONE_FITS``."""
    allowed = {_key(c.name): c.name for c in choices} | {_key(NONE_FITS): NONE_FITS}

    def parse(content: str | None) -> Choice:
        answer = parse_json_answer(content, Choice)
        chosen = allowed.get(_key(answer.category))
        if chosen is None:
            raise InvalidAnswer(f"{answer.category[:80]!r} is not one of the categories offered")
        return Choice(category=chosen)

    return parse


def _key(name: str) -> str:
    return " ".join(name.split()).strip(" \"'.").casefold()


def make_job(
    key: Any,
    endpoint: Endpoint,
    params: HierarchyParams,
    messages: list[dict],
    response_format: dict,
    parse,
) -> Job:
    body = request_body(endpoint.remote_model, messages, params, response_format)
    answer_key = prompt_hash(endpoint.model, body, PROMPT_VERSION, server=endpoint.server)
    name = response_format["json_schema"]["name"]
    reminder = REMINDER if name == RENAME_FORMAT["json_schema"]["name"] else CATEGORY_REMINDER
    return Job(key, body, answer_key, parse, reminder)


__all__ = [
    "NONE_FITS",
    "Category",
    "ClusterLabel",
    "Member",
    "Proposal",
    "assign_format",
    "assign_messages",
    "choice_parser",
    "make_job",
    "merge_messages",
    "parse_answer",
    "parse_category",
    "parse_proposal",
    "propose_messages",
    "rename_messages",
]
