"""A label: a specific title (or category name) and a short description, the answer a summary
run asks for each cluster and a hierarchy run for each parent it renames.

Titles and descriptions are bounded (``bounds.py``) in the schema's field descriptions and
when the answer is validated: strict structured output (OpenAI, Azure) refuses a string's
``maxLength`` with HTTP 400, so the schema carries none (arrays' ``maxItems`` is accepted).
"""

import re
from typing import Any

from pydantic import BaseModel, field_validator

from lmsys_pipeline.labeling.answers import parse_json_answer
from lmsys_pipeline.labeling.bounds import (
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    MAX_TITLE_WORDS,
    bounded_description,
    bounded_title,
    collapsed,
)

VAGUE_WORDS = ("various", "general", "miscellaneous", "diverse", "assorted", "mixed", "misc")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])")


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


# A title and a two-sentence description: a cluster's summary, a renamed parent.
SCHEMA = label_schema("title", "Exactly two sentences.")
# In every summary and hierarchy prompt since cluster-summary-v2 / cluster-hierarchy-v2 (the
# first layer of Clio's privacy: labels told to leave out what identifies a person).
PRIVACY_INSTRUCTION = (
    "Never include anything that could identify a person or an account in a title, name or "
    "description: no names of private people, e-mail or postal addresses, phone numbers, "
    "card, account, order or ID numbers, user names, IP addresses, keys or passwords, and no "
    "quotes of the queries; say what kind of thing it is instead (e.g. 'a customer's e-mail "
    "address')."
)
# Appended to a re-ask after an invalid label, with what was wrong.
REMINDER = (
    f"Keep the title to at most {MAX_TITLE_WORDS} words and {MAX_TITLE_CHARS} characters and "
    f"the description to two sentences of at most {MAX_DESCRIPTION_CHARS:,} characters."
)


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


def parse_answer(content: str | None) -> ClusterLabel:
    """The model's text → a valid label, or ``InvalidAnswer`` saying what was wrong."""
    return parse_json_answer(content, ClusterLabel)
