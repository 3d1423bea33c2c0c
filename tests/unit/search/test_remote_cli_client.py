"""The CLI's client of a running service (rag.cli.remote) against the real app on loopback
(uvicorn in a thread, fake models): search by text and image, list, export, delete a file
and a folder, and errors mapped to the CLI's exit-code classes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from rag.api import create_app
from rag.cli.remote import RemoteService
from rag.errors import AuthError, BadInputError
from rag.settings import Settings
from tests.conftest import SettingsFactory
from tests.media import png_bytes
from tests.unit.search.test_search_pipeline import fake_registry, make_corpus

KEYS = {"acme": "key-acme"}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def service(make_settings: SettingsFactory) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(api={"warmup": [], "keys": KEYS})
    port = _free_port()
    app = create_app(settings, models=fake_registry(settings))
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(30)


def test_remote_client_round_trip(service: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = service
    corpus = make_corpus(tmp_path / "corpus")
    with RemoteService(url, settings, "acme") as remote:
        # index the corpus through the service's upload route (its own process would run
        # the job; here the server is in-process, so use the synchronous route)
        files = [
            ("files", (p.name, p.read_bytes(), "application/octet-stream"))
            for p in sorted((corpus / "docs").iterdir())
        ]
        assert remote.request("POST", "/v1/index", files=files).json()["failed"] == 0
        rows = remote.list_sources()
        assert {r["source"] for r in rows} == {
            f"upload://{p.name}" for p in (corpus / "docs").iterdir()
        }
        hits = remote.search({"text": "red train station", "k": 3, "filters": None}, None, None)
        assert hits.results[0].source == "upload://trains.txt"
        by_image = remote.search(
            {"text": "train", "k": 2, "modalities": ["text"]}, png_bytes(), None
        )
        assert by_image.results
        lines = list(remote.export(vectors=False, source="upload://trains.txt"))
        assert lines
        assert all('"upload://trains.txt"' in line for line in lines)
        assert remote.delete(["upload://trains.txt"]) >= 1
        assert remote.delete(["upload://"]) >= len(rows) - 1
        assert remote.list_sources() == []
        with pytest.raises(BadInputError, match="k must be"):
            remote.search({"text": "x", "k": 0}, None, None)
    with pytest.raises(BadInputError, match="no API key"):
        RemoteService(url, settings, "nobody")
    wrong = settings.model_copy(update={"api": settings.api.model_copy(update={"keys": {}})})
    with RemoteService(url, wrong, "acme") as anonymous, pytest.raises(AuthError):
        anonymous.list_sources()
