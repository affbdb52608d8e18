"""The versioned prompt, the JSON schema the answer must follow, and its validation.

The prompt ends in a user message (some OpenAI-compatible servers reject a system-only
prompt). ``PROMPT_VERSION`` changes whenever the wording or what an answer means does; it and
the exact request (schema included) are part of every cache key, so an old answer is never
served for a new prompt. Titles and descriptions are bounded (``bounds.py``) in the schema
in the schema's field descriptions and when the answer is validated: strict structured
output (OpenAI, Azure) refuses a string's ``maxLength`` with HTTP 400, so the schema carries
none (arrays' ``maxItems`` is accepted).
"""

import hashlib
import json
import re
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError, field_validator

from lmsys_pipeline.summarizing.bounds import (
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    MAX_TITLE_WORDS,
    bounded_description,
    bounded_title,
    collapsed,
)
from lmsys_pipeline.summarizing.params import PROMPT_VERSION
from lmsys_pipeline.summarizing.selection import ClusterBrief

VAGUE_WORDS = ("various", "general", "miscellaneous", "diverse", "assorted", "mixed", "misc")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])")

SYSTEM = (
    "You label clusters of first messages that users sent to LLM chat assistants. A label "
    "must let an analyst tell this cluster apart from its nearest neighbours."
)


def label_schema(name: str, description: str) -> dict[str, Any]:
    """A strict object of a ``name`` field (a title, a category name) and a ``description``,
    their bounds said in words (strict mode refuses ``maxLength``; validation enforces them)."""
    return {
        "type": "object",
        "properties": {
            name: {
                "type": "string",
                "description": (
                    f"At most {MAX_TITLE_WORDS} words and {MAX_TITLE_CHARS} characters, specific."
                ),
            },
            "description": {
                "type": "string",
                "description": f"{description} At most {MAX_DESCRIPTION_CHARS:,} characters.",
            },
        },
        "required": [name, "description"],
        "additionalProperties": False,
    }


SCHEMA = label_schema("title", "Exactly two sentences.")
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "cluster_summary", "strict": True, "schema": SCHEMA},
}
# Appended to a re-ask after an invalid answer, with what was wrong.
REMINDER = (
    f"Keep the title to at most {MAX_TITLE_WORDS} words and {MAX_TITLE_CHARS} characters and "
    f"the description to two sentences of at most {MAX_DESCRIPTION_CHARS:,} characters."
)
A = TypeVar("A", bound=BaseModel)


class InvalidAnswer(ValueError):
    """The model answered, but not with a usable title and description."""


def specific_name(value: str, what: str = "title") -> str:
    """A title or category name: collapsed, at most ``MAX_TITLE_WORDS`` words and
    ``MAX_TITLE_CHARS`` characters, not vague."""
    value = bounded_title(collapsed(value).strip(" \"'."), what)
    if len(value.split()) > MAX_TITLE_WORDS:
        raise ValueError(f"the {what} has more than {MAX_TITLE_WORDS} words")
    vague = [w for w in VAGUE_WORDS if re.search(rf"\b{w}\b", value, re.IGNORECASE)]
    if vague:
        raise ValueError(f"the {what} uses the vague word {vague[0]!r}")
    return value


class ClusterLabel(BaseModel):
    title: str
    description: str

    @field_validator("title")
    @classmethod
    def _specific_title(cls, value: str) -> str:
        return specific_name(value)

    @field_validator("description")
    @classmethod
    def _two_sentences(cls, value: str) -> str:
        sentences = [s for s in SENTENCE_END.split(" ".join(value.split())) if s.strip()]
        if len(sentences) < 2:
            raise ValueError("the description is not two sentences")
        return bounded_description(" ".join(sentences[:2]))

    @property
    def summary(self) -> str:
        """Title and description in one string, as the seed's ``summary`` column holds."""
        return f"{self.title}: {self.description}"


def _numbered(queries: list[str]) -> str:
    return "\n".join(f"{i}. {q}" for i, q in enumerate(queries, 1))


def build_messages(brief: ClusterBrief) -> list[dict[str, str]]:
    parts = [
        f"Cluster of {brief.size:,} user queries. Representative queries (the most central "
        f"first, then a random sample):\n{_numbered(brief.queries)}",
    ]
    if brief.neighbors:
        contrast = "\n\n".join(
            f"Neighbouring cluster {i}:\n{_numbered(queries)}"
            for i, queries in enumerate(brief.neighbors.values(), 1)
        )
        parts.append(
            "For contrast, typical queries of the most similar other clusters "
            f"(do not describe these):\n{contrast}"
        )
    parts.append(
        'Write a JSON object with two fields. "title": at most 10 words naming what the '
        "queries of this cluster ask for and what sets them apart from the neighbouring "
        "clusters; be specific and never use words like 'various', 'general' or "
        "'miscellaneous'. \"description\": exactly two sentences, the first on what users "
        "want, the second on how the queries are phrased or what distinguishes them. Answer "
        "with the JSON object only."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


class Sampling(Protocol):
    temperature: float
    max_tokens: int
    seed: int


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` asking for JSON under ``schema`` (strict)."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def request_body(
    remote_model: str,
    messages: list[dict[str, str]],
    params: Sampling,
    response_format: dict[str, Any] = RESPONSE_FORMAT,
) -> dict[str, Any]:
    return {
        "model": remote_model,
        "messages": messages,
        "response_format": response_format,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
    }


def prompt_hash(
    model: str, body: dict[str, Any], version: str = PROMPT_VERSION, *, server: str
) -> str:
    """What identifies a paid answer: the server it came from (``Endpoint.server``: its URL
    without credentials), provider + model, the exact request and the prompt version
    (``version``: the summary prompt's unless another run type asks). Answers cached before
    the server was part of the key have other hashes: they are never served again."""
    payload = json.dumps(
        {"request": body, "model": model, "prompt_version": version, "server": server},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_answer(content: str | None) -> ClusterLabel:
    """The model's text → a valid label, or ``InvalidAnswer`` saying what was wrong."""
    return parse_json_answer(content, ClusterLabel)


def reminded(body: dict[str, Any], error: str, reminder: str) -> dict[str, Any]:
    """``body`` asked again after an invalid answer: a user message saying what was wrong
    (``error``) and the limits (``reminder``) follows the prompt."""
    note = (
        f"Your previous answer could not be used ({error}). {reminder} Answer with the JSON "
        "object only."
    )
    return {**body, "messages": [*body["messages"], {"role": "user", "content": note}]}


def parse_json_answer(content: str | None, answer_type: type[A]) -> A:
    """The model's text → the JSON object in it validated as ``answer_type``, or
    ``InvalidAnswer`` naming the first problem."""
    if not content or not content.strip():
        raise InvalidAnswer("the answer was empty")
    text = content.strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise InvalidAnswer("the answer held no JSON object")
    try:
        payload = json.loads(text[start : end + 1])
    except json.JSONDecodeError as error:
        raise InvalidAnswer(f"the answer was not valid JSON ({error.msg})") from None
    if not isinstance(payload, dict):
        raise InvalidAnswer("the answer was not a JSON object")
    try:
        return answer_type.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "the field is missing"
        raise InvalidAnswer(f"{where}: {message}") from None
