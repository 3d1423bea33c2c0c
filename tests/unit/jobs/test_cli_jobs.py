"""`mmrag jobs ...` and `mmrag worker` in the embedded default, with fake models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag.cli.main import app
from rag.jobs.ownership import owner_lock
from rag.models import registry
from rag.models.fakes import FakeMultilingual
from rag.settings import ModelKind, get_settings
from rag.store.base import CollectionSpec
from rag.store.edge import EmbeddedStore
from tests.media import png_bytes
from tests.unit.jobs.conftest import Fakes


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: Fakes) -> Iterator[Path]:
    """The CLI reads settings from the environment and builds its own registry."""
    data = tmp_path / "cli-data"
    monkeypatch.setenv("MMRAG_DATA_DIR", str(data))
    monkeypatch.setenv("MMRAG_JOBS__BATCH_FILES", "3")
    monkeypatch.delenv("MMRAG_JOBS__BROKER_URL", raising=False)
    loaders: dict[ModelKind, Any] = {
        "text": lambda _: fakes.text,
        "clip": lambda _: fakes.clip,
        "ocr": lambda _: fakes.ocr,
        "whisper": lambda _: fakes.whisper,
        "multilingual": lambda _: FakeMultilingual(),
    }
    monkeypatch.setattr(registry, "_LOADERS", {**registry._LOADERS, **loaders})
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _cli(*args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(app, list(args))
    try:
        out = json.loads(result.stdout)
    except json.JSONDecodeError:
        out = result.stdout
    return result.exit_code, out, result.stderr


def test_submit_wait_json_prints_the_index_summary(data_dir: Path, corpus: Path) -> None:
    (corpus / "broken.png").write_bytes(png_bytes()[:50])
    code, summary, err = _cli("jobs", "submit", str(corpus), "--wait", "--json")
    assert code == 1, err  # one file failed
    assert set(summary) == {
        "indexed", "unchanged", "failed", "skipped", "warnings", "units", "seconds", "dry_run"
    }  # fmt: skip
    assert summary["indexed"] == {"text": 1, "image": 5, "audio": 1}
    assert [Path(f["path"]).name for f in summary["failed"]] == ["broken.png"]
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["readme.docx"]
    assert summary["dry_run"] is False

    code, again, _ = _cli("jobs", "submit", str(corpus / "a.png"), "--wait", "--json")
    assert code == 0
    assert again["unchanged"]["image"] == 1

    code, listed, _ = _cli("jobs", "list", "--json")
    assert code == 0
    assert [j["state"] for j in listed["jobs"]] == ["succeeded", "failed"]
    job_id = listed["jobs"][1]["id"]
    code, view, _ = _cli("jobs", "status", job_id, "--json")
    assert code == 0
    assert view["progress"]["files_done"] == view["progress"]["files_total"] == 9
    code, text, _ = _cli("jobs", "status", job_id)
    assert code == 0
    assert "failed" in text
    assert "broken.png" in text


def test_submit_with_progress_bar(data_dir: Path, corpus: Path) -> None:
    code, out, err = _cli("jobs", "submit", str(corpus), "--wait")
    assert code == 0, err
    assert "indexing summary" in out
    assert "succeeded" in err


def test_with_no_service_the_cli_runs_the_job_itself(data_dir: Path, corpus: Path) -> None:
    code, job, err = _cli("jobs", "submit", str(corpus / "a.png"), "--json")
    assert code == 0, err
    assert "running it here" in err
    code, view, _ = _cli("jobs", "status", job["id"], "--json")
    assert view["state"] == "succeeded"


def test_when_a_service_owns_the_data_dir_the_job_is_queued_for_it(
    data_dir: Path, corpus: Path
) -> None:
    service = owner_lock(data_dir)  # a running `mmrag serve` holds this
    assert service.acquire()
    try:
        code, job, err = _cli("jobs", "submit", str(corpus), "--json")
        assert code == 0, err
        assert "queued" in err
        assert job["state"] == "queued"
        code, cancelled, _ = _cli("jobs", "cancel", job["id"], "--json")
        assert code == 0
        assert cancelled["state"] == "cancelled"
        code, listed, _ = _cli("jobs", "list", "--state", "cancelled", "--json")
        assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    finally:
        service.release()


def test_a_store_open_elsewhere_cancels_the_job(data_dir: Path, corpus: Path) -> None:
    holder = EmbeddedStore(data_dir / "qdrant")  # e.g. a `mmrag index` in another shell
    holder.ensure_collection("mmrag_image", CollectionSpec(dense={"clip": 4}))
    try:
        code, _out, err = _cli("jobs", "submit", str(corpus), "--wait", "--json")
    finally:
        holder.close()
    assert code == 3
    assert "open in another process" in err
    code, listed, _ = _cli("jobs", "list", "--json")
    assert listed["jobs"][0]["state"] == "cancelled"


def test_usage_errors(data_dir: Path, corpus: Path) -> None:
    assert _cli("jobs", "status", "nope")[0] == 2
    assert _cli("jobs", "cancel", "nope")[0] == 2
    assert _cli("jobs", "list", "--state", "sleeping")[0] == 2
    assert _cli("jobs", "submit")[0] == 2
    code, _, err = _cli("worker")
    assert code == 2
    assert "MMRAG_JOBS__BROKER_URL" in err


def test_the_cli_stays_light() -> None:
    code = (
        "import sys, rag.cli.main; "
        "print(','.join(m for m in ('celery', 'kombu', 'redis', 'rag.jobs', 'torch') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
