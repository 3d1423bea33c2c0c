"""OCR: PP-OCRv4 detection + recognition through rapidocr-onnxruntime (bundled weights)."""

from __future__ import annotations

import logging
import threading
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
    """Reads text lines from an image, top to bottom."""

    def __init__(self, engine: Any, *, spec: OcrSettings, version: str) -> None:
        self._engine = engine
        self._spec = spec
        self.version = version
        # onnxruntime sessions are thread-safe, but RapidOCR keeps per-call state.
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> list[OcrLine]:
        array = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR expects BGR like cv2
        with self._lock:
            result, _elapsed = self._engine(np.ascontiguousarray(array))
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


@cache
def load_ocr(spec: OcrSettings) -> OcrEngine:
    """Load once per process and configuration (CPU: the ONNX models are small)."""
    from rapidocr_onnxruntime import RapidOCR

    source = resolve_ocr_source()
    logger.info("loading OCR from %s", source.describe())
    engine = RapidOCR()
    return OcrEngine(engine, spec=spec, version=version_for(OCR_LABEL, source))
