"""Cross-modal reranking: a second, closer look at the top candidates.

Each candidate is rescored with everything it carries:
- text: the query against the candidate's context text (a chunk with its title, a speech
  segment with its neighbouring segments, an image's OCR text), by the configured
  cross-encoder, else by the sentence encoder on that richer context (when the context is
  exactly the text the index embedded, the first stage's dense score of it is that very
  number, so it is reused instead of encoding the text again);
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

from rerankers.calibration import RERANK_CLIP, RERANK_TEXT

RERANK_CLIP_FIELD = "rerank_clip"  # rag.store.collections.Field.RERANK_CLIP

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
    payload = candidate.payload
    if candidate.modality == "audio":
        return str(payload.get("context") or payload.get("text") or "")
    text = str(payload.get("text") or "")
    title = payload.get("title")
    return f"{title}\n{text}" if title and title not in text else text


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
        fresh = []
        for candidate, text in pairs:
            if candidate.text_score is not None and text == candidate.payload.get("text"):
                # The same encoder on the same string: the stored vector's score is the answer.
                out[candidate.id][RERANK_TEXT] = candidate.text_score
            else:
                fresh.append((candidate, text))
        if not fresh:
            return
        vectors = self._models.text().encode([text for _, text in fresh])
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
            vector = candidate.payload.get(RERANK_CLIP_FIELD)
            models = candidate.payload.get("models") or {}
            current = models.get("clip") == clip.version
            if current and isinstance(vector, list) and len(vector) == clip.dim:
                stored.append((candidate, vector))
                continue
            logger.debug("no rerank vector of the current CLIP model for %s", candidate.id)
        if not stored:
            return
        matrix = np.asarray([vector for _, vector in stored], dtype=np.float32)
        scores = matrix @ np.asarray(target, dtype=np.float32)
        for (candidate, _), score in zip(stored, scores, strict=True):
            out[candidate.id][RERANK_CLIP] = float(score)
