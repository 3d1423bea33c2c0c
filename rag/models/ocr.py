"""OCR: PP-OCRv4 detection + recognition through rapidocr-onnxruntime (bundled weights)."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.models.ports import OcrLine
from rag.models.source import (
    ModelSource,
    SourceKind,
    package_dir,
    package_version,
    version_for,
)
from rag.settings import OcrSettings

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

_DIST = "rapidocr-onnxruntime"
OCR_LABEL = "pp-ocrv4"


def resolve_ocr_source() -> ModelSource:
    folder = package_dir("rapidocr_onnxruntime") / "models"
    return ModelSource(
        SourceKind.BUNDLED, str(folder), package=f"{_DIST}=={package_version(_DIST)}"
    )


class OcrEngine:
    """Reads text lines from images, top to bottom; up to ``spec.workers`` at once.

    RapidOCR keeps per-call state, so one engine serves one call at a time: the engine holds
    a pool of them (made on first need, at most ``spec.workers``) and each call borrows one.
    Callers on several threads (the indexer's image pool) then OCR in parallel.
    """

    def __init__(
        self,
        engine: Any,
        *,
        spec: OcrSettings,
        version: str,
        make_engine: Callable[[], Any] | None = None,
    ) -> None:
        self._spec = spec
        self.version = version
        self.workers = spec.workers if make_engine is not None else 1
        self._make_engine = make_engine
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle.put(engine)
        self._made = 1
        self._lock = threading.Lock()

    def _borrow(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            make = self._make_engine is not None and self._made < self.workers
            if make:
                self._made += 1
        if make:
            assert self._make_engine is not None
            try:
                return self._make_engine()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        return self._idle.get()

    def read(self, image: Image.Image) -> list[OcrLine]:
        array = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR expects BGR like cv2
        engine = self._borrow()
        try:
            result, _elapsed = engine(np.ascontiguousarray(array))
        finally:
            self._idle.put(engine)
        lines: list[OcrLine] = []
        for box, text, score in result or []:
            if float(score) < self._spec.min_confidence or not str(text).strip():
                continue
            lines.append(
                OcrLine(
                    str(text).strip(), float(score), tuple((float(x), float(y)) for x, y in box)
                )
            )
        lines.sort(key=lambda line: (min(y for _, y in line.box), min(x for x, _ in line.box)))
        return lines

    def text(self, image: Image.Image) -> str:
        return "\n".join(line.text for line in self.read(image))


def engine_threads(workers: int, cores: int | None = None) -> int:
    """onnxruntime threads per engine: all cores (its default, -1) for one engine, else the
    cores shared out, so N engines at once do not oversubscribe the CPU."""
    if workers <= 1:
        return -1
    return max(1, (cores or os.cpu_count() or 1) // workers)


@cache
def load_ocr(spec: OcrSettings) -> OcrEngine:
    """Load once per process and configuration (CPU: the ONNX models are small); the pool's
    further engines are made when concurrent calls first need them."""
    from rapidocr_onnxruntime import RapidOCR

    source = resolve_ocr_source()
    threads = engine_threads(spec.workers)
    logger.info(
        "loading OCR from %s (up to %d engines, %s threads each)",
        source.describe(),
        spec.workers,
        "all" if threads < 0 else threads,
    )

    def make() -> Any:
        return RapidOCR(intra_op_num_threads=threads) if threads > 0 else RapidOCR()

    return OcrEngine(make(), spec=spec, version=version_for(OCR_LABEL, source), make_engine=make)
