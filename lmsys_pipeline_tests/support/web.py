"""A real uvicorn server for an explorer app, in a thread, on a port the OS picked (the bound
socket is handed to uvicorn: no port can be taken in between), and a headless Chromium."""

import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serving(app) -> Iterator[str]:
    """Yields the server's base URL; stops it (and waits for its thread) afterwards."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    ready = threading.Event()
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on"), ready)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        if not ready.wait(timeout=60):
            raise RuntimeError("The explorer did not start within 60 s.")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


@contextmanager
def chromium() -> Iterator:
    """A Playwright browser context over Debian's Chromium, with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="explorer-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()
