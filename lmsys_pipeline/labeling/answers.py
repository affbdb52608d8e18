"""A strict-JSON question and its answer: the request body, the key its answer is cached
under, the re-ask after an invalid answer, and reading the JSON object out of the answer.

Every answer a run uses is strict JSON under a schema (``json_schema_format``) and validated
here; the prompt version and the exact request (schema included) are part of every cache key,
so an old answer is never served for a new prompt.
"""

import hashlib
import json
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

A = TypeVar("A", bound=BaseModel)


class InvalidAnswer(ValueError):
    """The model answered, but not with a usable answer; the message says what was wrong."""


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
    response_format: dict[str, Any],
) -> dict[str, Any]:
    return {
        "model": remote_model,
        "messages": messages,
        "response_format": response_format,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
    }


def prompt_hash(model: str, body: dict[str, Any], version: str, *, server: str) -> str:
    """What identifies a paid answer: the server it came from (``Endpoint.server``: its URL
    without credentials), provider + model, the exact request and the prompt ``version`` of
    the run type asking. Answers cached before the server was part of the key have other
    hashes: they are never served again."""
    payload = json.dumps(
        {"request": body, "model": model, "prompt_version": version, "server": server},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
