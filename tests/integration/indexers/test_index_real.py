"""Indexing with the real bundled models, through the CLI and the HTTP API."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexers.pipeline import Indexer
from rag.api import create_app
from rag.cli.main import app
from rag.models import ModelRegistry
from rag.settings import Settings
from rag.store.base import Filter, MatchValue, VectorStore
from rag.store.edge import EmbeddedStore
from rag.store.server import ServerStore
from tests.media import png_bomb_bytes, png_bytes, write_wav


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A small mixed corpus from the shared material, plus one of every kind of bad input."""
    root = tmp_path_factory.mktemp("corpus")
    images = sorted((shared_data / "image_caption/coco2017_subset/images/val2017").glob("*.jpg"))
    (root / "images").mkdir()
    for image in images[:3]:
        shutil.copy(image, root / "images" / image.name)
    (root / "speech").mkdir()
    shutil.copy(shared_data / "audio/faster_whisper/jfk.flac", root / "speech/jfk.flac")
    shutil.copy(shared_data / "audio/lhotse/LJ002-0020.wav", root / "speech/LJ002-0020.wav")
    shutil.copy(
        shared_data / "audio/ljspeech_coqui_tts/wavs/LJ001-0004.mp3", root / "speech/LJ001-0004.mp3"
    )
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes(images[0].read_bytes()[:2000])
    (bad / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (bad / "bomb.png").write_bytes(png_bomb_bytes())
    (bad / "zero.wav").write_bytes(b"")
    (bad / "not-audio.mp3").write_bytes(png_bytes())
    write_wav(bad / "silence.wav", [(3, False)])
    (bad / "loop").symlink_to(bad)
    (bad / "notes.docx").write_bytes(b"PK\x03\x04")
    return root


BAD_REASONS = {
    "empty.jpg": "empty file",
    "truncated.jpg": "truncated",
    "corrupt.png": "",
    "bomb.png": "decompression bomb",
    "zero.wav": "empty file",
    "not-audio.mp3": "not an audio file",
    "loop": "symlink loop",
}


def _run_cli(args: list[str]) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["index", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_cli_indexes_a_mixed_corpus_then_everything_is_unchanged(
    corpus: Path, models: ModelRegistry, cli_env: None
) -> None:
    code, summary = _run_cli([str(corpus)])
    assert code == 1, "bad inputs make the exit code non-zero"
    # silence.wav decodes but holds no words (not even without VAD): indexed, with a warning
    assert summary["indexed"] == {"text": 0, "image": 3, "audio": 4}
    assert summary["units"]["image"] == 3
    assert summary["units"]["audio"] >= 4
    failed = {Path(f["path"]).name: f["reason"] for f in summary["failed"]}
    assert set(failed) == set(BAD_REASONS), failed
    for name, reason in BAD_REASONS.items():
        assert reason in failed[name], (name, failed[name])
    warned = {Path(w["path"]).name: w["warning"] for w in summary["warnings"]}
    assert list(warned) == ["silence.wav"]
    assert "no words recognised" in warned["silence.wav"]
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["notes.docx"]

    started = time.perf_counter()
    code, again = _run_cli([str(corpus / "images"), str(corpus / "speech")])
    elapsed = time.perf_counter() - started
    assert code == 0
    assert again["unchanged"] == {"text": 0, "image": 3, "audio": 3}  # bad/ not passed
    assert again["indexed"] == {"text": 0, "image": 0, "audio": 0}
    assert elapsed < 5, f"an unchanged re-index took {elapsed:.1f}s"


def test_dry_run_reports_and_writes_nothing(
    corpus: Path, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.settings import get_settings

    monkeypatch.setenv("MMRAG_DATA_DIR", str(tmp_path / "dry"))
    get_settings.cache_clear()
    code, summary = _run_cli([str(corpus / "speech"), "--dry-run"])
    assert code == 0
    assert summary["dry_run"] is True
    assert summary["indexed"]["audio"] == 3
    assert not (tmp_path / "dry" / "qdrant").exists()


def test_both_backends_hold_the_same_points(
    corpus: Path, session_settings: Settings, tmp_path: Path
) -> None:
    stores: list[VectorStore] = [
        EmbeddedStore(tmp_path / "qdrant"),
        ServerStore(location=":memory:"),
    ]
    snapshots = []
    for store in stores:
        settings = session_settings.model_copy(update={"data_dir": tmp_path / store.backend})
        report = Indexer(settings, ModelRegistry(settings), store).index_paths(
            [corpus / "images", corpus / "speech"]
        )
        assert report.ok
        points = []
        for collection in ("mmrag_image", "mmrag_audio"):
            page, _ = store.scroll(collection, None, limit=1000)
            points += [
                (p.id, p.payload["text"], p.payload["locator"], p.payload["state"]) for p in page
            ]
        snapshots.append(sorted(points, key=lambda t: t[0]))
        store.close()
    assert snapshots[0] == snapshots[1]


def test_speech_units_carry_times_and_transcripts(
    corpus: Path, session_settings: Settings, tmp_path: Path
) -> None:
    store = EmbeddedStore(tmp_path / "qdrant")
    Indexer(session_settings, ModelRegistry(session_settings), store).index_paths(
        [corpus / "speech"]
    )
    where = Filter(must=(MatchValue("source_name", "jfk.flac"),))
    points, _ = store.scroll("mmrag_audio", where, limit=100)
    store.close()
    assert points
    text = " ".join(
        p.payload["text"] for p in sorted(points, key=lambda p: p.payload["locator"]["start_s"])
    )
    assert "ask not what your country can do for you" in text.lower()
    for p in points:
        assert 0 <= p.payload["locator"]["start_s"] < p.payload["locator"]["end_s"] <= 11.5
        assert p.payload["language"] == "en"
        assert p.payload["models"]["whisper"].startswith("whisper-tiny.en@")


def test_http_upload_indexes_with_per_file_results(
    session_settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    settings = session_settings.model_copy(update={"data_dir": tmp_path / "api"})
    image = next((shared_data / "image_caption/coco2017_subset/images/val2017").glob("*.jpg"))
    speech = shared_data / "audio/lhotse/LJ002-0020.wav"
    with TestClient(create_app(settings)) as client:
        files = [
            ("files", (image.name, image.read_bytes(), "image/jpeg")),
            ("files", ("talk.wav", speech.read_bytes(), "audio/wav")),
            ("files", ("../../etc/evil.jpg", b"not an image", "image/jpeg")),
            ("files", ("notes.exe", b"MZ", "application/octet-stream")),
        ]
        response = client.post("/v1/index", files=files)
        assert response.status_code == 200, response.text
        body = response.json()
        by_name = {r["filename"]: r for r in body["results"]}
        assert by_name[image.name]["status"] == "indexed"
        assert by_name["talk.wav"]["status"] == "indexed"
        assert by_name["talk.wav"]["source"] == "upload://talk.wav"
        assert by_name["evil.jpg"]["status"] == "failed"
        assert "not a readable image" in by_name["evil.jpg"]["reason"]
        assert by_name["notes.exe"]["reason"] == "unsupported file type .exe"
        assert body["failed"] == 2
        again = client.post("/v1/index", files=files[:2]).json()
        assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
        uploads = tmp_path / "api" / "uploads" / "default"
        assert list(uploads.rglob(image.name)), "an indexed upload is kept: media serves it"
        # a failed upload is deleted; nothing was ever written outside the upload folder
        assert list((tmp_path / "api").rglob("evil*")) == []
        assert list(tmp_path.rglob("evil*")) == []


def test_http_upload_limits_and_auth(session_settings: Settings, tmp_path: Path) -> None:
    from pydantic import SecretStr

    settings = session_settings.model_copy(
        update={
            "data_dir": tmp_path / "api",
            "index": session_settings.index.model_copy(update={"max_upload_mb": 1}),
            "api": session_settings.api.model_copy(update={"keys": {"acme": SecretStr("k-acme")}}),
        }
    )
    with TestClient(create_app(settings)) as client:
        big = ("files", ("big.png", b"\x00" * (2 << 20), "image/png"))
        assert client.post("/v1/index", files=[big]).status_code == 401
        wrong = client.post("/v1/index", files=[big], headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        response = client.post("/v1/index", files=[big], headers={"X-API-Key": "k-acme"})
        assert response.status_code == 413
        assert "MMRAG_INDEX__MAX_UPLOAD_MB" in response.json()["detail"]
        empty = client.post("/v1/index", headers={"Authorization": "Bearer k-acme"})
        assert empty.status_code == 422
