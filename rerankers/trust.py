"""How far a later stage may move a query's ranking: only as far as its model was reliable.

A rerank signal re-scores candidates with a model the first stage already used (the sentence
encoder on a richer context; CLIP on the pixels). If that model was unreliable for this
query (its first-stage reliability, the shape of its scores over the candidates, is far below
the best signal's) or does not cover the query's language, letting its second look decide
the final order would undo fusion. So each rerank signal's blend weight is the *relative*
reliability of its first-stage counterpart: 1 when it was the most reliable signal, 0 when it
sat at the floor while another signal stood out. Fusion itself weights the signals equally
(``rerankers.fusion``); the reliability read for this gate is shown as ``reliability`` in a
hit's explain. A cross-encoder has no first-stage counterpart; its weight is the reliability
of its own scores over the head. With trust 0 the fused order stands.
"""

from __future__ import annotations

from collections.abc import Mapping

from rag.langid import covers
from rerankers.calibration import CLIP_IMAGE, CLIP_TEXT, RERANK_CLIP, RERANK_TEXT, TEXT_DENSE
from rerankers.fusion import RELIABILITY_FLOOR

__all__ = ["COUNTERPARTS", "covers", "relative_trust", "rerank_trust"]

# rerank signal -> first-stage signals of the same model
COUNTERPARTS: dict[str, tuple[str, ...]] = {
    RERANK_TEXT: (TEXT_DENSE,),
    RERANK_CLIP: (CLIP_TEXT, CLIP_IMAGE),
}


def relative_trust(
    weight: float, weights: Mapping[str, float], floor: float = RELIABILITY_FLOOR
) -> float:
    """``weight`` against the best weight fusion gave: 0 at the floor, 1 at the best."""
    top = max(weights.values(), default=0.0)
    if top <= 0 or weight <= 0:
        return 0.0
    if weight >= top:
        return 1.0
    return max(0.0, (weight - floor) / (top - floor)) if top > floor else 0.0


def rerank_trust(
    signal: str,
    weights: Mapping[str, float],
    *,
    cross_encoder: bool,
    own_reliability: float,
    covered: bool,
) -> float:
    """Blend weight in [0, 1] of one rerank signal for one candidate's query."""
    if not covered:
        return 0.0
    if cross_encoder:
        return own_reliability
    base = max((weights.get(s, 0.0) for s in COUNTERPARTS.get(signal, ())), default=0.0)
    return relative_trust(base, weights)
