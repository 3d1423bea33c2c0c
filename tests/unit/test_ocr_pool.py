"""OCR runs in a pool (issue 15): an engine per concurrent call, up to
``MMRAG_MODELS__OCR__WORKERS``, and the indexer OCRs that many images at once, with the same
text as one worker."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeTextEmbedder
from rag.models.ocr import OcrEngine, engine_threads
from rag.models.ports import OcrLine
from rag.settings import OcrSettings, Settings
from rag.store.base import Filter, MatchValue
from rag.store.edge import EmbeddedStore
from tests.conftest import SettingsFactory


class Gauge:
    """Counts calls in flight; each call holds long enough for the others to overlap."""

    def __init__(self, hold_s: float = 0.05) -> None:
        self.hold_s = hold_s
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def __exit__(self, *exc: object) -> None:
        time.sleep(self.hold_s)
        with self._lock:
            self.active -= 1


class FakeRapid:
    """RapidOCR's call shape: (lines, elapsed), a line being (box, text, score); the text
    is the image's mean red value, so a mixed-up pool would show."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self.busy = False

    def __call__(self, array: Any) -> tuple[list[Any], float]:
        assert not self.busy, "one engine served two calls at once"
        self.busy = True
        try:
            with self.gauge:
                red = int(np.asarray(array)[:, :, 2].mean())  # BGR
        finally:
            self.busy = False
        return [([[0, 0], [1, 0], [1, 1], [0, 1]], f"red {red}", 0.9)], 0.0


def _pool(workers: int, gauge: Gauge) -> tuple[OcrEngine, list[FakeRapid]]:
    made: list[FakeRapid] = []

    def make() -> FakeRapid:
        made.append(FakeRapid(gauge))
        return made[-1]

    engine = OcrEngine(make(), spec=OcrSettings(workers=workers), version="v", make_engine=make)
    return engine, made


def _images(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (16, 16), (10 * i, 0, 0)) for i in range(n)]


def test_the_pool_reads_concurrently_with_identical_text() -> None:
    gauge = Gauge()
    engine, made = _pool(3, gauge)
    images = _images(9)
    with ThreadPoolExecutor(6) as threads:
        texts = list(threads.map(engine.text, images))
    assert texts == [f"red {10 * i}" for i in range(9)]
    assert gauge.peak == 3  # three at once, never more
    assert len(made) == 3  # engines made on need, at most workers


def test_one_worker_reads_one_image_at_a_time() -> None:
    gauge = Gauge(0.01)
    engine, made = _pool(1, gauge)
    with ThreadPoolExecutor(4) as threads:
        texts = list(threads.map(engine.text, _images(6)))
    assert texts == [f"red {10 * i}" for i in range(6)]
    assert gauge.peak == 1
    assert len(made) == 1


def test_engines_share_out_the_cores() -> None:
    assert engine_threads(1, cores=16) == -1  # onnxruntime's default: every core
    assert engine_threads(4, cores=16) == 4
    assert engine_threads(32, cores=16) == 1


def test_workers_default_to_the_cores(make_settings: SettingsFactory, monkeypatch: Any) -> None:
    monkeypatch.delenv("MMRAG_MODELS__OCR__WORKERS", raising=False)
    assert make_settings().models.ocr.workers == (os.cpu_count() or 1)
    monkeypatch.setenv("MMRAG_MODELS__OCR__WORKERS", "3")
    assert make_settings().models.ocr.workers == 3


class GaugedOcr:
    """The indexer's view of OCR (rag.models.ports.OcrReader), slow enough to overlap."""

    version = "fake-ocr"

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge

    def read(self, image: Image.Image) -> list[OcrLine]:
        return [OcrLine(self.text(image), 1.0, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))]

    def text(self, image: Image.Image) -> str:
        with self.gauge:
            return f"red {int(np.asarray(image.convert('RGB'))[:, :, 0].mean())}"


def _index(settings: Settings, folder: Path, store_dir: Path, gauge: Gauge) -> dict[str, str]:
    ocr = GaugedOcr(gauge)
    models = ModelRegistry(
        settings,
        loaders={
            "text": lambda _: FakeTextEmbedder(),
            "clip": lambda _: FakeClip(),
            "ocr": lambda _: ocr,
            "multilingual": lambda _: FakeMultilingual(),
        },
    )
    store = EmbeddedStore(store_dir)
    try:
        report = Indexer(settings, models, store).index_paths([folder])
        assert report.ok, report.to_json()
        points, _ = store.scroll(
            "mmrag_image", Filter(must=(MatchValue("state", "live"),)), limit=100
        )
        return {str(p.payload["source_name"]): str(p.payload["text"]) for p in points}
    finally:
        store.close()


def test_the_indexer_ocrs_images_in_parallel_with_the_same_text(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(8):
        Image.new("RGB", (48, 48), (20 * i, 40, 40)).save(folder / f"p{i}.png")
    (folder / "note.txt").write_text("a text file between the images")
    one, many = Gauge(), Gauge()
    serial = _index(make_settings(models={"ocr": {"workers": 1}}), folder, tmp_path / "q1", one)
    pooled = _index(make_settings(models={"ocr": {"workers": 4}}), folder, tmp_path / "q4", many)
    assert serial == pooled
    assert serial == {f"p{i}.png": f"red {20 * i}" for i in range(8)}
    assert one.peak == 1
    assert many.peak > 1  # images OCR'd at once
    assert many.peak <= 4
