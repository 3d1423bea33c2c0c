"""Search over the bundled sample corpus with the real models: CLI and HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexers.pipeline import Indexer
from rag.api import create_app
from rag.cli.main import app
from rag.models import ModelRegistry
from rag.settings import Settings, get_settings
from rag.store import open_store
from tests.conftest import MODEL_CACHE, REPO_ROOT

SAMPLES = REPO_ROOT / "samples"


@pytest.fixture(scope="module")
def sample_settings(
    session_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = session_settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("samples")})
    store = open_store(settings)
    try:
        report = Indexer(settings, ModelRegistry(settings), store).index_paths(
            [SAMPLES / "images", SAMPLES / "speech", SAMPLES / "text"]
        )
    finally:
        store.close()
    assert report.ok, report.to_json()
    return settings


@pytest.fixture
def client(sample_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(sample_settings)) as c:
        yield c


def test_cli_text_query(sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_DATA_DIR", str(sample_settings.data_dir))
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(MODEL_CACHE))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["search", "printing with movable metal type", "-k", "5", "--json"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert {"id", "modality", "score", "source", "locator", "snippet"} <= set(results[0])
    names = [Path(r["source"]).name for r in results]
    assert names[0] == "printing.md"
    assert any(n.startswith("LJ001-") for n in names), names


def test_http_text_query_reaches_speech(client: TestClient) -> None:
    body = client.post(
        "/v1/search", json={"text": "the invention of the art of printing", "modalities": ["audio"]}
    ).json()
    top = body["results"][0]
    assert top["source_name"] == "LJ001-0005.mp3"
    assert top["locator"]["start_s"] is not None
    assert "printing" in top["snippet"].lower()


def test_http_audio_query_is_transcribed_and_finds_its_text(client: TestClient) -> None:
    clip = (SAMPLES / "speech" / "LJ001-0009.mp3").read_bytes()
    body = client.post(
        "/v1/search",
        data={"modalities": "text,audio"},
        files={"audio": ("question.mp3", clip, "audio/mpeg")},
    ).json()
    assert "movable types" in body["query"]["transcript"].lower()
    assert body["results"][0]["source_name"] == "LJ001-0009.mp3"
    assert "printing.md" in [r["source_name"] for r in body["results"][:4]]


def test_http_image_query_finds_the_same_image(client: TestClient) -> None:
    """Even random CLIP weights map identical pixels to identical vectors."""
    image = (SAMPLES / "images" / "clock-tower.jpg").read_bytes()
    body = client.post(
        "/v1/search", files={"image": ("q.jpg", image, "image/jpeg")}, data={"modalities": "image"}
    ).json()
    assert body["results"][0]["source_name"] == "clock-tower.jpg"
    assert any("RANDOM weights" in w for w in body["warnings"])


def test_ocr_text_inside_images_is_searchable(client: TestClient) -> None:
    body = client.post(
        "/v1/search", json={"text": "STOP", "modalities": ["image"], "explain": True}
    ).json()
    top = body["results"][0]
    assert top["source_name"] == "stop-sign.jpg"
    assert "STOP" in top["snippet"].upper()
    assert "bm25" in top["explain"]["retrieval"]


def test_text_and_image_together(client: TestClient) -> None:
    image = (SAMPLES / "images" / "train.jpg").read_bytes()
    body = client.post(
        "/v1/search",
        data={"text": "railway crossing", "k": "5"},
        files={"image": ("q.jpg", image, "image/jpeg")},
    ).json()
    names = [r["source_name"] for r in body["results"]]
    assert "train.jpg" in names
    assert "traffic-signs.txt" in names
