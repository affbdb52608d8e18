"""A real HTTP server on 127.0.0.1 speaking the parts of the OpenAI API the pipeline uses.

Embeddings are deterministic pseudo-random unit vectors seeded by the text, so equal texts get
equal vectors. ``fail_first`` answers that many requests with 429 (and ``Retry-After: 0``)
before serving, to exercise the client's retries.

Chat completions answer a valid cluster label derived from the prompt, after ``chat_latency``
seconds. ``chat_script`` lists what the next requests get instead, in order: ``"429"`` (with
``Retry-After``), ``"500"``, ``"400"`` (a schema the server refuses; a strict schema whose
strings carry ``maxLength`` or ``minLength`` always gets it, as from OpenAI), ``"timeout"``
(answers after ``timeout_sleep`` s), ``"malformed"`` (not JSON), ``"missing_field"``,
``"refusal"``, ``"vague"`` (a "various ..." title), ``"none"`` (a hierarchy assignment answers
"none of these fits"), ``"html"`` (status 200 with a web page, as a login portal or a wrong
base URL gives), ``"empty"`` (status 200, no body), ``"long_title"`` (a valid answer whose
title is one word of ``long_chars`` characters; hierarchy prompts get their name or title that
long) or ``"ok"``; ``chat_behaviour`` (prompt text → one of those) decides when the script is
empty; ``chat_label`` (prompt text → a label, or None for the default) lets a test choose what
a valid answer says. ``title_prefix`` starts every title (two servers, or one before and after,
answer differently). Hierarchy prompts (their schema's name starts with ``hierarchy_``) get
answers derived from the prompt (``hierarchy_answer``).

``arrived`` is set when a chat request comes in; while ``hold`` is set to an unset event,
every chat answer waits for it (at most ``hold_timeout`` s): a test can keep a run in flight
until it has seen what it waits for, without sleeping.
"""

import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def fake_vector(text: str, dimension: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimension)
    return (vector / np.linalg.norm(vector)).round(6).tolist()


@dataclass
class ServerState:
    dimension: int = 8
    fail_first: int = 0
    requests: list[dict] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    chat_latency: float = 0.0
    chat_script: list[str] = field(default_factory=list)
    chat_behaviour: Callable[[str], str] | None = None
    chat_label: Callable[[str], dict[str, str] | None] | None = None
    retry_after: str = "0"
    timeout_sleep: float = 3.0
    arrivals: list[float] = field(default_factory=list)
    long_chars: int = 5_000_000
    title_prefix: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event | None = None
    hold_timeout: float = 120.0

    @property
    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]


def prompt_text(request: dict) -> str:
    return "\n".join(m.get("content") or "" for m in request.get("messages", []))


def label_for(prompt: str) -> dict[str, str]:
    """A valid label naming the first representative query's words."""
    first = re.search(r"^1\. (.+)$", prompt, re.MULTILINE)
    words = re.findall(r"[A-Za-z]{3,}", first.group(1) if first else "")[:4] or ["queries"]
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:6]
    return {
        "title": f"{' '.join(words).capitalize()} ({digest})",
        "description": f"Users ask about {' '.join(words)}. They phrase it as requests.",
    }


def _words(text: str, count: int) -> str:
    return " ".join(re.findall(r"[A-Za-z]{3,}", text)[:count]) or "requests"


def hierarchy_answer(schema: str, request: dict, kind: str) -> dict:
    """A valid answer to a hierarchy prompt, derived from it: one category per run of about
    two clusters listed, named after their first words; the first candidate when merging;
    the category offered that shares the most words with the child's title when assigning
    (the first, i.e. nearest, on a tie; ``"none of these fits"`` for the kind ``none``); a
    rename after the largest child."""
    # The first user message: a re-ask appends a reminder after it.
    prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:6]
    listed = re.findall(r"^\d+\. (.+?) \([\d,]+ queries\)", prompt, re.MULTILINE)
    if schema == "hierarchy_categories":
        wanted = int(re.search(r"Propose up to (\d+)", prompt).group(1))
        count = max(1, min(wanted, len(listed) // 2))
        chunks = [
            listed[i * len(listed) // count : (i + 1) * len(listed) // count] for i in range(count)
        ]
        return {
            "categories": [
                {
                    "name": f"{' '.join(_words(t, 1) for t in chunk[:4]).title()} group {digest}",
                    "description": f"Requests like {_words(' '.join(chunk), 6)}.",
                }
                for chunk in chunks
            ]
        }
    if schema == "hierarchy_merge":
        first = re.search(r"^- (.+?): (.+)$", prompt, re.MULTILINE)
        return {"name": first.group(1), "description": first.group(2)}
    if schema == "hierarchy_assign":
        names = request["response_format"]["json_schema"]["schema"]["properties"]["category"]
        names = names["enum"]
        if kind == "none":
            return {"category": names[-1]}
        child = set(_words(prompt.split("\n")[1], 20).lower().split())
        overlap = [len(child & set(_words(name, 20).lower().split())) for name in names[:-1]]
        return {"category": names[overlap.index(max(overlap))]}
    return {
        "title": f"{_words(listed[0] if listed else prompt, 4).capitalize()} family {digest}",
        "description": f"Users ask about {_words(prompt, 5)}. It holds {len(listed)} clusters.",
    }


# String keywords that strict structured output (OpenAI, Azure) refuses with HTTP 400.
STRICT_REFUSED = ("maxLength", "minLength")


def strict_schema_fault(request: dict) -> str | None:
    """The 400 message a strict-mode server gives for ``request``'s schema, or None: a string
    field may not carry ``maxLength``/``minLength``, as OpenAI's structured outputs answer."""
    response_format = request.get("response_format") or {}
    spec = response_format.get("json_schema") or {}
    if not spec.get("strict"):
        return None
    pending = [spec.get("schema") or {}]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for keyword in STRICT_REFUSED:
                if node.get("type") == "string" and keyword in node:
                    return (
                        f"Invalid schema for response_format '{spec.get('name')}': "
                        f"'{keyword}' is not permitted."
                    )
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return None


def _lengthened(answer: dict, chars: int) -> dict:
    """The answer with its title (or name, or first category's name) one word of ``chars``;
    an assignment (no name) as it was."""
    target = answer["categories"][0] if "categories" in answer else answer
    for key in ("title", "name"):
        if key in target:
            target[key] = "A" + "a" * (chars - 1)
    return answer


def _chat_reply(kind: str, request: dict, state: ServerState) -> tuple[int, dict, dict[str, str]]:
    prompt = prompt_text(request)
    schema = request.get("response_format", {}).get("json_schema", {}).get("name", "")
    answer = (
        hierarchy_answer(schema, request, kind)
        if schema.startswith("hierarchy_")
        else dict((state.chat_label and state.chat_label(prompt)) or label_for(prompt))
    )
    if kind == "long_title":
        answer = _lengthened(answer, state.long_chars)
    if state.title_prefix and "title" in answer:
        answer["title"] = f"{state.title_prefix} {answer['title']}"
    content = json.dumps(answer)
    refusal = None
    if kind == "malformed":
        content = '{"title": "Card problems", "description": '
    elif kind == "missing_field":
        content = json.dumps({"title": label_for(prompt)["title"]})
    elif kind == "vague":
        content = json.dumps(
            {
                "title": "Various general questions",
                "description": "Many things. Asked in many ways.",
            }
        )
    elif kind == "refusal":
        content, refusal = None, "I can't help with labelling these messages."
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return (
        200,
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "test"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": len(prompt) // 4,
                "completion_tokens": 25,
                "total_tokens": len(prompt) // 4 + 25,
            },
        },
        {},
    )


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><h1>Sign in to continue</h1></body></html>"
)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the stdlib default of 5 stalls concurrent clients
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (cancelled or timed out) is not an error worth printing."""
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextmanager
def openai_server(state: ServerState) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive and no Nagle delay, as real API servers do: otherwise every answer
        # waits ~40 ms for a delayed ACK between its headers and body.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

        def _send_raw(
            self,
            status: int,
            body: bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                state.requests.append({"path": self.path, **request})
                state.authorizations.append(self.headers.get("Authorization", ""))
                failing = state.fail_first > 0
                if failing:
                    state.fail_first -= 1
            if failing:
                self._send(
                    429,
                    {"error": {"message": "slow down", "type": "rate_limit"}},
                    {"Retry-After": "0"},
                )
                return
            if self.path.endswith("/chat/completions"):
                self._chat(request)
                return
            if self.path.endswith("/embeddings"):
                texts = request["input"]
                texts = [texts] if isinstance(texts, str) else texts
                data = [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": fake_vector(t, state.dimension),
                    }
                    for i, t in enumerate(texts)
                ]
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": request["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )
                return
            self._send(404, {"error": {"message": f"no route {self.path}"}})

        def _chat(self, request: dict) -> None:
            with lock:
                state.arrivals.append(time.monotonic())
                if state.chat_script:
                    kind = state.chat_script.pop(0)
                elif state.chat_behaviour is not None:
                    kind = state.chat_behaviour(prompt_text(request))
                else:
                    kind = "ok"
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(state.hold_timeout)
            if kind == "html":
                self._send_raw(200, HTML_PAGE, "text/html; charset=utf-8")
                return
            if kind == "empty":
                self._send_raw(200, b"", "application/json")
                return
            if kind == "429":
                self._send(
                    429,
                    {"error": {"message": "rate limited", "type": "rate_limit"}},
                    {"Retry-After": state.retry_after},
                )
                return
            if kind == "401":
                self._send(401, {"error": {"message": "bad key", "type": "invalid_api_key"}})
                return
            if kind == "500":
                self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                return
            refused = strict_schema_fault(request)
            if kind == "400" or refused:
                message = refused or "Invalid schema for response_format: 'x' is not permitted."
                self._send(400, {"error": {"message": message, "type": "invalid_request_error"}})
                return
            time.sleep(state.timeout_sleep if kind == "timeout" else state.chat_latency)
            # The client may have given up (its timeout) before this answer.
            with suppress(BrokenPipeError, ConnectionResetError):
                self._send(*_chat_reply(kind, request, state))

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
