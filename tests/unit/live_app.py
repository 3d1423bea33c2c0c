"""The real app on loopback (uvicorn in a thread), for tests that need real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI

from rag.api import create_app
from rag.models import ModelRegistry
from rag.models.fakes import FakeTextEmbedder
from rag.settings import Settings


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_app(
    settings: Settings, models: ModelRegistry | None = None
) -> Iterator[tuple[str, FastAPI]]:
    """Yield (base URL, app) while the app serves on a free loopback port."""
    models = models or ModelRegistry(settings, loaders={"text": lambda _: FakeTextEmbedder()})
    app = create_app(settings, models=models)
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port
