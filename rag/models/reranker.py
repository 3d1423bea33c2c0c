"""Optional cross-encoder (sentence-transformers ``CrossEncoder``) for reranking.

No cross-encoder weights ship in any package, so none is configured by default; users point
``MMRAG_MODELS__RERANKER__MODEL`` at a local folder or, with network access, a hub name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.errors import ConfigError
from rag.models.source import ModelSource, SourceKind, local_path, version_for
from rag.settings import Precision, RerankerSettings

logger = logging.getLogger(__name__)


def resolve_reranker_source(spec: RerankerSettings) -> ModelSource:
    if not spec.model:
        raise ConfigError("no reranker model is configured (MMRAG_MODELS__RERANKER__MODEL)")
    path = local_path(spec.model)
    if path is not None:
        return ModelSource(SourceKind.LOCAL, str(path))
    return ModelSource(SourceKind.HUB, spec.model)


def reranker_label(spec: RerankerSettings) -> str:
    return f"cross-encoder:{spec.model}"


class CrossEncoderScorer:
    """Scores (query, passage) pairs; higher is more relevant, in [0, 1]."""

    def __init__(self, model: Any, *, spec: RerankerSettings, version: str, device: str) -> None:
        self._model = model
        self._spec = spec
        self.version = version
        self.device = device

    def score(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict(
            [(query, p) for p in passages],
            batch_size=self._spec.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]


@cache
def load_reranker(
    spec: RerankerSettings, device: str, precision: Precision = "auto"
) -> CrossEncoderScorer:
    """Load once per process and configuration; half precision on CUDA, where all of a
    query's pairs go through in one batch."""
    from sentence_transformers import CrossEncoder

    from rag.models.device import choose_batch_size, torch_dtype

    source = resolve_reranker_source(spec)
    dtype = torch_dtype(precision, device)
    logger.info("loading cross-encoder from %s on %s (%s)", source.describe(), device, dtype)
    model = CrossEncoder(
        source.location, device=device, num_labels=1, model_kwargs={"dtype": dtype}
    )
    spec = spec.model_copy(
        update={"batch_size": choose_batch_size(spec.batch_size, device, cuda_batch=1024)}
    )
    version = version_for(reranker_label(spec), source)
    return CrossEncoderScorer(model, spec=spec, version=version, device=device)
