"""Fit the per-(modality, signal) score calibration from judged datasets.

Every judged query runs through the full pipeline with ``explain``; each returned candidate
gives one (raw score, relevant?) pair per signal that scored it, first-stage and rerank alike.
A logistic map is fitted per (modality, signal) with enough pairs of both kinds; the others
keep the documented defaults.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eval.dataset import Dataset
from eval.runner import FULL, _request, eval_settings, index_dataset
from rag.models import ModelRegistry
from rag.settings import Settings
from rerankers.calibration import Calibration, Logistic, fit_logistic, new_version

logger = logging.getLogger(__name__)

MIN_PAIRS = 30
MIN_POSITIVES = 5

Pairs = dict[tuple[str, str], list[tuple[float, bool]]]


def collect_pairs(
    dataset: Dataset,
    settings: Settings,
    models: ModelRegistry,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Pairs:
    from rag.runtime import Runtime

    pairs: Pairs = defaultdict(list)
    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        # Scores are collected raw, so the calibration in use does not matter here.
        searcher = runtime.searcher(Calibration())
        queries = dataset.judged_queries[:limit] if limit else dataset.judged_queries
        for n, query in enumerate(queries, 1):
            request = _request(query, 50, FULL.rerank_depth)
            request = type(request)(**{**request.__dict__, "explain": True})
            response = searcher.search(request, tenant="default", options=FULL.options)
            relevant = {d for d, g in dataset.qrels.get(query.id, {}).items() if g > 0}
            for hit in response.results:
                doc = indexed.corpus_id({"source": hit.source, "locator": hit.locator.model_dump()})
                label = doc in relevant
                explain: dict[str, Any] = hit.explain or {}
                for signal, raw in explain.get("retrieval", {}).items():
                    pairs[(hit.modality, signal)].append((float(raw), label))
                for signal, detail in explain.get("rerank", {}).items():
                    pairs[(hit.modality, signal)].append((float(detail["raw"]), label))
            if progress:
                progress(n, len(queries))
    return pairs


def fit_calibration(pairs: Pairs, *, sources: Sequence[str]) -> Calibration:
    params: dict[str, dict[str, Logistic]] = defaultdict(dict)
    stats: dict[str, Any] = {}
    for (modality, signal), samples in sorted(pairs.items()):
        positives = sum(1 for _, label in samples if label)
        key = f"{modality}/{signal}"
        stats[key] = {"pairs": len(samples), "relevant": positives}
        if len(samples) < MIN_PAIRS or positives < MIN_POSITIVES or positives == len(samples):
            stats[key]["fitted"] = False
            continue
        fitted = fit_logistic([s for s, _ in samples], [label for _, label in samples])
        if fitted.a <= 0:
            # A higher score must never mean less relevant; keep the default instead.
            stats[key]["fitted"] = False
            stats[key]["rejected_slope"] = round(fitted.a, 4)
            continue
        params[modality][signal] = fitted
        stats[key].update(fitted=True, a=round(fitted.a, 4), b=round(fitted.b, 4))
    return Calibration(
        params=dict(params),
        version=new_version(),
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=", ".join(sources),
        stats=stats,
    )
