"""One chat completion read off the wire, bounded, and what was wrong with it.

The ``openai`` client hands back the body as a plain string when a server answers status 200
with something that is not JSON (a login page, a base URL that is not the API's), and raises a
bare ``JSONDecodeError`` on an empty body: neither says what happened, and either ended a run
with a causeless error. Here the body is read as a stream, at most ``MAX_ANSWER_BYTES``, and
decoded by hand: a body that is not a chat completion raises ``NotACompletion`` naming what it
was (a failed request, not asked again: the same server would answer the same), a body over
the limit comes back ``oversized`` (an invalid answer, asked again with a reminder). The
client's retries of 429, 5xx and timeouts happen before the body is read, as before.
"""

import json
from dataclasses import dataclass
from typing import Any

from lmsys_pipeline.labeling.bounds import MAX_ANSWER_BYTES


class NotACompletion(Exception):
    """A status-200 answer that is not a chat completion; the message names what it was."""


@dataclass(frozen=True)
class Completion:
    content: str | None = None
    refusal: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    no_choices: bool = False
    oversized: bool = False


async def fetch_completion(
    client: Any, body: dict[str, Any], limit: int = MAX_ANSWER_BYTES
) -> Completion:
    """POSTs ``body`` to the chat-completions route and reads at most ``limit`` bytes of the
    answer; status errors raise the client's exceptions (after its retries)."""
    async with client.chat.completions.with_streaming_response.create(**body) as response:
        data = bytearray()
        async for chunk in response.iter_bytes():
            data += chunk
            if len(data) > limit:
                return Completion(oversized=True)
        content_type = response.headers.get("content-type", "")
    return decode_completion(bytes(data), content_type)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def decode_completion(raw: bytes, content_type: str = "application/json") -> Completion:
    """The parts of a chat completion the runs use; ``NotACompletion`` naming what ``raw`` was
    when it is not one."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        raise NotACompletion("HTTP 200 with an empty body instead of a chat completion")
    if "html" in content_type.lower() or text.startswith("<"):
        raise NotACompletion(
            "HTTP 200 with a web page instead of a chat completion, as a login page or a base "
            "URL that is not the API's gives"
        )
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        raise NotACompletion("HTTP 200 with text that is not JSON") from None
    if not isinstance(payload, dict) or "choices" not in payload:
        raise NotACompletion("HTTP 200 with JSON that is not a chat completion")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    tokens = {
        "tokens_in": _int(usage.get("prompt_tokens")),
        "tokens_out": _int(usage.get("completion_tokens")),
    }
    choices = payload["choices"]
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        return Completion(no_choices=True, **tokens)
    return Completion(_text(message.get("content")), _text(message.get("refusal")), **tokens)
