"""Models other than the packaged one follow the Hugging Face convention: downloaded when the
hub is allowed, the local cache only when HF_HUB_OFFLINE is set."""

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from lmsys_pipeline.embedding.embedders import EmbedderError, load_embedder

LOAD = (
    "from lmsys_pipeline.embedding.embedders import load_embedder\n"
    "try:\n"
    "    load_embedder('some-org/not-cached-model')\n"
    "except Exception as error:\n"
    "    print(type(error).__name__, error)\n"
)


class _Hub(http.server.BaseHTTPRequestHandler):
    """A stand-in hub on 127.0.0.1 that knows no model: every request is answered 404."""

    requests: ClassVar[list[str]] = []

    def _not_found(self) -> None:
        type(self).requests.append(self.path)
        body = b'{"error": "Repository not found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Error-Code", "RepoNotFound")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _not_found

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hub():
    _Hub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _load_in_a_fresh_process(tmp_path: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    clean.update(HOME=str(tmp_path), HF_HOME=str(tmp_path / "hf"), **env)
    done = subprocess.run(
        [sys.executable, "-c", LOAD], env=clean, capture_output=True, text=True, timeout=300
    )
    return done.stdout


@pytest.mark.subprocess
def test_online_a_model_name_is_asked_of_the_hub(tmp_path: Path, hub: str):
    printed = _load_in_a_fresh_process(tmp_path, HF_ENDPOINT=hub)
    assert printed.startswith("EmbedderError")
    assert "could not be loaded from the local cache or downloaded from the hub" in printed
    assert any("not-cached-model" in path for path in _Hub.requests)


@pytest.mark.subprocess
def test_offline_the_error_says_both_ways_and_nothing_is_asked(tmp_path: Path, hub: str):
    printed = _load_in_a_fresh_process(tmp_path, HF_ENDPOINT=hub, HF_HUB_OFFLINE="1")
    assert "HF_HUB_OFFLINE is set" in printed and "unset HF_HUB_OFFLINE" in printed
    assert "all-MiniLM-L6-v2" in printed
    assert _Hub.requests == []


def test_a_folder_that_is_not_a_model_says_so(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(EmbedderError, match="is not a sentence-transformers model folder"):
        load_embedder(str(tmp_path))
