"""A real HTTP server on 127.0.0.1 speaking the parts of the OpenAI API the pipeline uses.

Embeddings are deterministic pseudo-random unit vectors seeded by the text, so equal texts get
equal vectors. ``fail_first`` answers that many requests with 429 (and ``Retry-After: 0``)
before serving, to exercise the client's retries.
"""

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the stdlib default of 5 stalls concurrent clients
    daemon_threads = True


@contextmanager
def openai_server(state: ServerState) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
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
                self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}},
                           {"Retry-After": "0"})
                return
            if self.path.endswith("/embeddings"):
                texts = request["input"]
                texts = [texts] if isinstance(texts, str) else texts
                data = [{"object": "embedding", "index": i,
                         "embedding": fake_vector(t, state.dimension)}
                        for i, t in enumerate(texts)]
                self._send(200, {"object": "list", "data": data, "model": request["model"],
                                 "usage": {"prompt_tokens": 1, "total_tokens": 1}})
                return
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
