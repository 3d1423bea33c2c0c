"""Adaptive fusion of several retrieval signals into one calibrated score per candidate.

A fixed recipe (Qdrant's RRF, or fixed weights) fails when one signal collapses: the bundled
sentence encoder is English-only, so on other languages its cosines bunch together while
lexical matching still separates the relevant passage. Fusion therefore adapts per query to
what each signal can know: a dense model that was not trained on the query's language or
the candidate's does not vote on that candidate (``FusionParams.uncovered``,
``candidate_languages``), where two dense text models both cover them only the one trained
on fewer languages votes (``specialist``: on English, MiniLM and not the multilingual
encoder), a signal that found nothing does not vote, and every other signal votes with the
same weight; a candidate's score is the weighted mean of its calibrated log-odds over the
signals that can score it (a candidate missing from a signal is not scored by it). The
calibration, not the weight, says how much one signal's score means.

Weighting each signal by the shape of its scores instead (how far its best candidate stands
out, in standard deviations: a max-z query-performance predictor, ``reliability``) is kept as
``FusionParams(shape=True)``, measured in ``bench.quality_bench`` ('full, shape weights'). It
was the default until whole-collection runs showed why not: a score distribution's shape is
not comparable across models (on MS MARCO the strongest model, MiniLM, got the smallest share
and the two weaker signals 72% of the vote, bench.reliability), and the best of 100-200
candidates of pure noise already stands out by 2.5-2.8 standard deviations (the expected
maximum of as many Gaussian draws), inside the ramp, so the shape could not tell a collapsed
model from a working one; language coverage is what catches the collapse. The reliability is
still read: rerank trust (``rerankers.trust``) keeps comparing it between the signals, since
trusting every voting model fully in rerank measured mixed (README, *Equal fusion weights*).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# max-z below LOW: the signal's best candidate does not stand out (collapsed or off-topic);
# above HIGH: it clearly does. Reliability ramps linearly in between, from FLOOR to 1. It
# gates rerank (rerankers.trust), and weights fusion only with FusionParams(shape=True).
RELIABILITY_LOW = 1.5
RELIABILITY_HIGH = 4.0
RELIABILITY_FLOOR = 0.1


# A signal's reliability is read from at most this many of its best scores, whatever depth
# the request retrieves (so a query's fusion does not depend on the ``k`` it asked for).
RELIABILITY_WINDOW = 1000  # i.e. every candidate of a default request (an ablation switch)
# Weight factor of a dense model for a query in a language it was not trained on (see
# FusionParams.uncovered): 0, it does not vote. The shape of its scores overstates what they
# know (a shared name or number makes one passage stand out while the rest is noise): with
# weight by shape alone, the English MiniLM pulled XQuAD Chinese from 0.988 (lexical alone)
# to 0.963 nDCG@10 (bench.quality_bench, 80 passages, 30 questions).
UNCOVERED_FACTOR = 0.0


@dataclass(frozen=True)
class FusionParams:
    # Weight each voting signal by the shape of its scores (``reliability``, max-z over the
    # candidates) instead of equally: the earlier rule, kept as an ablation (see above).
    shape: bool = False
    low: float = RELIABILITY_LOW
    high: float = RELIABILITY_HIGH
    floor: float = RELIABILITY_FLOOR
    window: int = RELIABILITY_WINDOW
    # Multiplies the weight of a dense model that does not cover the query's language
    # (0 = ignore the model unless no covering signal found anything, 1 = let it vote like
    # the others). Rerank always ignores such a model.
    uncovered: float = UNCOVERED_FACTOR
    # Rerank by a model the first stage already used moves a candidate by what its second
    # look adds (its score of the richer context minus its first-stage score), not toward
    # its opinion: re-reading the same text adds nothing and moves nothing.
    rerank_delta: bool = (
        False  # True is measured in bench.quality_bench ('full, rerank toward' is the ablation)
    )
    # A dense model votes on a candidate only if it also covers the candidate's language
    # (payload ``lang``), as rerank already required: the English MiniLM reading a German
    # passage for an English or undetermined question scores noise. False: the query's
    # language alone decides (the earlier rule, an ablation).
    candidate_languages: bool = True
    # Where several dense text models cover both languages, only the most specific votes
    # (the one trained on the fewest languages): two encoders reading the same text are one
    # kind of evidence, and averaging the weaker reading into the stronger dilutes it.
    specialist: bool = True


def reliability(
    scores: Sequence[float], params: FusionParams = FusionParams(), *, sparse: bool = False
) -> float:
    """How much to trust a signal for this query, in [floor, 1], from its top-N scores
    (the first ``params.window`` of them, best first). ``sparse``: a lexical signal, whose
    score is exactly 0 for a candidate that shares no term with the query."""
    scores = sorted(scores, reverse=True)[: params.window]
    n = len(scores)
    if n < 3:
        return (
            1.0  # too few candidates to judge the shape; a sparse signal matching so few is precise
        )
    if sparse and scores[0] > 0 and 2 * sum(s <= 0 for s in scores) > n:
        # Most candidates share no term with the query and a few do: the signal cleanly
        # separates those few, however many of them tie (six clips of the same spoken
        # word). Max-z would read the group's size as doubt (z = sqrt((n - k) / k) for k
        # equal scores among n).
        return 1.0
    mean = math.fsum(scores) / n
    var = math.fsum((s - mean) ** 2 for s in scores) / n
    std = math.sqrt(var)
    if std < 1e-9:
        return params.floor  # every candidate scores the same: the signal says nothing
    z_max = (max(scores) - mean) / std
    ramp = (z_max - params.low) / (params.high - params.low)
    return params.floor + (1.0 - params.floor) * min(1.0, max(0.0, ramp))


@dataclass(frozen=True)
class Fused:
    logit: float
    contributions: dict[str, float]  # signal -> calibrated log-odds used


def fuse(
    candidates: Sequence[str],
    scores: Mapping[str, Mapping[str, float]],
    weights: Mapping[str, float] | Callable[[str], Mapping[str, float]],
    calibrate: Callable[[str, float], float],
) -> dict[str, Fused]:
    """Weighted mean of calibrated log-odds per candidate.

    ``scores[signal][candidate]`` is the raw score; a candidate missing from a signal is not
    scored by it (its point has no such vector) and the mean runs over the others.
    ``weights``: one weight per signal for every candidate, or a function giving a
    candidate's own (which models can read its language).
    """
    out: dict[str, Fused] = {}
    for candidate in candidates:
        total = weight_sum = 0.0
        used: dict[str, float] = {}
        own = weights(candidate) if callable(weights) else weights
        for signal, by_candidate in scores.items():
            raw = by_candidate.get(candidate)
            weight = own.get(signal, 0.0)
            if raw is None or weight <= 0:
                continue
            logit = calibrate(signal, raw)
            used[signal] = logit
            total += weight * logit
            weight_sum += weight
        out[candidate] = Fused(total / weight_sum if weight_sum else -20.0, used)
    return out


def rrf(rankings: Sequence[Sequence[str]], *, k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: the fixed recipe, kept for comparison in ablations."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, candidate in enumerate(ranking, start=1):
            scores[candidate] = scores.get(candidate, 0.0) + 1.0 / (k + rank)
    return scores


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
