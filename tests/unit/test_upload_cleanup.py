"""POST /v1/index keeps an uploaded file on disk only while a point of the index serves it
(issue 14): failed uploads, uploads never indexed (a later file refused, an error), and
temporary files a killed request left behind are deleted."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexers.pipeline import Indexer
from rag.api import create_app
from rag.errors import StoreError
from tests.conftest import SettingsFactory
from tests.media import png_bytes
from tests.unit.search.test_search_pipeline import fake_registry


def _files(root: Path) -> list[str]:
    """Every file under the upload folder, relative names; folders left empty count too."""
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or not any(p.iterdir())
    )


@pytest.fixture
def client(make_settings: SettingsFactory) -> Any:
    settings = make_settings(api={"warmup": []}, index={"max_upload_mb": 1})
    with TestClient(create_app(settings, models=fake_registry(settings))) as client:
        client.uploads = settings.data_dir / "uploads" / "default"  # type: ignore[attr-defined]
        yield client


def test_failed_uploads_are_deleted_and_indexed_ones_kept(client: Any) -> None:
    red = png_bytes(color=(230, 10, 10))
    files = [
        ("files", ("red.png", red, "image/png")),
        ("files", ("broken.png", b"not an image", "image/png")),
        ("files", ("notes.exe", b"MZ", "application/octet-stream")),
    ]
    body = client.post("/v1/index", files=files).json()
    assert [r["status"] for r in body["results"]] == ["indexed", "failed", "failed"]
    kept = _files(client.uploads)
    assert len(kept) == 1
    assert kept[0].endswith("/red.png"), kept
    # media still serves the indexed original
    hit = client.post("/v1/search", json={"text": "red", "modalities": ["image"]}).json()
    assert client.get(hit["results"][0]["media_url"]).status_code == 200


def test_an_upload_refused_mid_request_leaves_nothing(client: Any) -> None:
    files = [
        ("files", ("blue.png", png_bytes(color=(10, 10, 230)), "image/png")),
        ("files", ("big.png", b"\x00" * (2 << 20), "image/png")),
    ]
    assert client.post("/v1/index", files=files).status_code == 413
    assert _files(client.uploads) == [], "blue.png was stored, never indexed: deleted"


def test_a_failed_request_keeps_an_earlier_identical_upload(client: Any) -> None:
    red = ("files", ("red.png", png_bytes(color=(230, 10, 10)), "image/png"))
    assert client.post("/v1/index", files=[red]).json()["results"][0]["status"] == "indexed"
    before = _files(client.uploads)
    big = ("files", ("big.png", b"\x00" * (2 << 20), "image/png"))
    assert client.post("/v1/index", files=[red, big]).status_code == 413
    assert _files(client.uploads) == before, "the same name and bytes are still indexed"


def test_an_indexing_error_deletes_the_staged_uploads(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(Indexer, "index_files", broken)
    red = ("files", ("red.png", png_bytes(color=(230, 10, 10)), "image/png"))
    response = client.post("/v1/index", files=[red])
    assert response.status_code == 503
    assert _files(client.uploads) == []


def test_stale_temporary_uploads_are_swept(client: Any) -> None:
    client.uploads.mkdir(parents=True)
    stale = client.uploads / ".upload-dead"
    stale.write_bytes(b"half an upload")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = client.uploads / ".upload-busy"  # another request's, in progress
    fresh.write_bytes(b"streaming")
    red = ("files", ("red.png", png_bytes(color=(230, 10, 10)), "image/png"))
    assert client.post("/v1/index", files=[red]).status_code == 200
    assert not stale.exists()
    assert fresh.exists()
