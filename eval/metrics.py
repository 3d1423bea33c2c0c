"""Retrieval metrics, computed by trec_eval (pytrec_eval-terrier), the reference implementation.

Recall@k for k in ``CURVE_K`` (1, 2, 3, 5, 10, 20, 50, 100), MRR@10, nDCG@10 and MAP (over the
retrieved list), per query and averaged over the judged queries; latency percentiles from the
measured query times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

CURVE_K = (1, 2, 3, 5, 10, 20, 50, 100)
RECALL = tuple(f"recall@{k}" for k in CURVE_K)
# the original six first (tables and older readers), then the rest of the recall curve
METRICS = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "map",
    "recall@2",
    "recall@3",
    "recall@20",
    "recall@50",
    "recall@100",
)
_TREC = {name: f"recall_{k}" for k, name in zip(CURVE_K, RECALL, strict=True)} | {
    "ndcg@10": "ndcg_cut_10",
    "map": "map",
}
_MEASURES = {"recall." + ",".join(map(str, CURVE_K)), "ndcg_cut.10", "map"}


def evaluate(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per-query metrics for every judged query (a query with no results scores 0)."""
    import pytrec_eval

    judged = {q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items() if docs}
    full_run = {q: {d: float(s) for d, s in run.get(q, {}).items()} for q in judged}
    evaluator = pytrec_eval.RelevanceEvaluator(judged, _MEASURES)
    top10 = {
        q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:10]) for q, docs in full_run.items()
    }
    rr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"})
    scored = evaluator.evaluate(_nonempty(full_run))
    reciprocal = rr.evaluate(_nonempty(top10))
    out: dict[str, dict[str, float]] = {}
    for query in judged:
        values = scored.get(query, {})
        out[query] = {name: float(values.get(trec, 0.0)) for name, trec in _TREC.items()}
        out[query]["mrr@10"] = float(reciprocal.get(query, {}).get("recip_rank", 0.0))
    return out


def _nonempty(run: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    # trec_eval skips queries without results; they are scored 0 by evaluate() instead.
    return {q: dict(docs) for q, docs in run.items() if docs}


def mean(
    per_query: Mapping[str, Mapping[str, float]], queries: Sequence[str] | None = None
) -> dict[str, float]:
    ids = list(queries) if queries is not None else list(per_query)
    if not ids:
        return dict.fromkeys(METRICS, 0.0)
    return {m: float(np.mean([per_query[q][m] for q in ids])) for m in METRICS}


def latency(ms: Sequence[float]) -> dict[str, Any]:
    if not ms:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    values = np.asarray(ms, dtype=float)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "n": int(values.size),
    }


def curve(means: Mapping[str, Any]) -> dict[str, float]:
    """Recall@k for every k in ``CURVE_K`` (keys are k as strings, for JSON)."""
    return {str(k): float(means.get(f"recall@{k}", 0.0)) for k in CURVE_K}
