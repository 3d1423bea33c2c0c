"""Cross-modal reranking: a second, closer look at the top candidates.

Each candidate is rescored with everything it carries:
- text: the query against the candidate's context text (a chunk with its title, a speech
  segment with its neighbouring segments, an image's OCR text), by the configured
  cross-encoder, else by the sentence encoder's vector of that context: when the context is
  exactly the text the index embedded, the first stage's dense score of it is that very
  number and is reused; a richer context's vector was computed when the unit was indexed
  (payload ``rerank_text``, of the text model in ``models``), so the score is a dot
  product. Only a context without a stored vector of the current text model (indexed by
  another model, or before these vectors were stored) is encoded at query time;
- pixels: an image's CLIP vector with its horizontal-flip view averaged in, computed when it
  was indexed (payload ``rerank_clip``), against the query's text or image CLIP vector. No
  original is decoded at query time; a point indexed by another CLIP model (or before these
  vectors were stored) keeps its first-stage scores until it is re-indexed.
Model calls are batched; they run on CUDA when the models were loaded there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.store.collections import Field, rerank_context
from rerankers.calibration import RERANK_CLIP, RERANK_TEXT

RERANK_CLIP_FIELD = Field.RERANK_CLIP
RERANK_TEXT_FIELD = Field.RERANK_TEXT

if TYPE_CHECKING:
    from rag.models import ModelRegistry

logger = logging.getLogger(__name__)


@dataclass
class RerankCandidate:
    id: str
    modality: str
    payload: dict[str, Any]
    # The first stage's dense text score (query vs the vector the index stored for
    # ``payload["text"]``), when the candidate has one.
    text_score: float | None = None


@dataclass(frozen=True)
class RerankQuery:
    text: str | None
    text_vector: np.ndarray[Any, Any] | None
    clip_text_vector: np.ndarray[Any, Any] | None
    clip_image_vector: np.ndarray[Any, Any] | None


def context_text(candidate: RerankCandidate) -> str:
    return rerank_context(candidate.modality, candidate.payload)


def _stored_vector(
    payload: dict[str, Any], field: str, kind: str, version: str, dim: int
) -> list[float] | None:
    """The payload's index-time rerank vector, if the current model (``version``) made it."""
    vector = payload.get(field)
    models = payload.get(Field.MODELS) or {}
    if models.get(kind) == version and isinstance(vector, list) and len(vector) == dim:
        return vector
    return None


class CrossModalReranker:
    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    @property
    def uses_cross_encoder(self) -> bool:
        return self._models.reranker() is not None

    def score(
        self, query: RerankQuery, candidates: Sequence[RerankCandidate]
    ) -> dict[str, dict[str, float]]:
        """Raw rerank scores per candidate id and rerank signal."""
        out: dict[str, dict[str, float]] = {c.id: {} for c in candidates}
        self._score_text(query, candidates, out)
        self._score_pixels(query, candidates, out)
        return out

    def _score_text(
        self,
        query: RerankQuery,
        candidates: Sequence[RerankCandidate],
        out: dict[str, dict[str, float]],
    ) -> None:
        if not query.text:
            return
        pairs = [(c, context_text(c)) for c in candidates]
        pairs = [(c, text) for c, text in pairs if text.strip()]
        if not pairs:
            return
        scorer = self._models.reranker()
        if scorer is not None:
            scores = scorer.score(query.text, [text for _, text in pairs])
            for (candidate, _), score in zip(pairs, scores, strict=True):
                out[candidate.id][RERANK_TEXT] = float(score)
            return
        assert query.text_vector is not None
        encoder = self._models.text()
        stored: list[tuple[RerankCandidate, list[float]]] = []
        fresh = []
        for candidate, text in pairs:
            if candidate.text_score is not None and text == candidate.payload.get(Field.TEXT):
                # The same encoder on the same string: the stored vector's score is the answer.
                out[candidate.id][RERANK_TEXT] = candidate.text_score
            elif (
                vector := _stored_vector(
                    candidate.payload, RERANK_TEXT_FIELD, "text", encoder.version, encoder.dim
                )
            ) is not None:
                stored.append((candidate, vector))
            else:
                fresh.append((candidate, text))
        target = np.asarray(query.text_vector, dtype=np.float32)
        if stored:
            matrix = np.asarray([vector for _, vector in stored], dtype=np.float32)
            for (candidate, _), score in zip(stored, matrix @ target, strict=True):
                out[candidate.id][RERANK_TEXT] = float(score)
        if fresh:
            logger.debug("encoding %d rerank contexts at query time", len(fresh))
            vectors = encoder.encode([text for _, text in fresh])
            for (candidate, _), score in zip(fresh, vectors @ query.text_vector, strict=True):
                out[candidate.id][RERANK_TEXT] = float(score)

    def _score_pixels(
        self,
        query: RerankQuery,
        candidates: Sequence[RerankCandidate],
        out: dict[str, dict[str, float]],
    ) -> None:
        target = (
            query.clip_image_vector
            if query.clip_image_vector is not None
            else query.clip_text_vector
        )
        if target is None:
            return
        clip = self._models.clip()
        stored: list[tuple[RerankCandidate, list[float]]] = []
        for candidate in candidates:
            if candidate.modality != "image":
                continue
            vector = _stored_vector(
                candidate.payload, RERANK_CLIP_FIELD, "clip", clip.version, clip.dim
            )
            if vector is not None:
                stored.append((candidate, vector))
                continue
            logger.debug("no rerank vector of the current CLIP model for %s", candidate.id)
        if not stored:
            return
        matrix = np.asarray([vector for _, vector in stored], dtype=np.float32)
        scores = matrix @ np.asarray(target, dtype=np.float32)
        for (candidate, _), score in zip(stored, scores, strict=True):
            out[candidate.id][RERANK_CLIP] = float(score)
