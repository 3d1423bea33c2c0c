"""Does a per-query max-z reliability follow each signal's real quality? Per collection.

    .venv/bin/python -m bench.reliability [--collections msmarco de ...] [--whole]
        [--docs 240] [--queries 100] [--cache DIR] [--out FILE]

Fusion used to weight each signal per query by the shape of its scores (max-z over the
candidates, ``rerankers.fusion.reliability``; now ``FusionParams(shape=True)``, the default
weights are equal, see ``rerankers.fusion``). This script indexes a collection once (the
same subsets as ``bench.quality_bench``), runs every query through the full pipeline with
shape weights, reading the weights they give from the same search (``explain``), and through
the pipeline with one signal alone to read that signal's own nDCG@10 per query. It
reports, per signal: its nDCG@10 alone, how often it sat at the reliability floor, its mean
share of the weight, and the Spearman rank correlation between its weight and its own
nDCG@10 over the queries (how well the weight predicts the signal's quality; near 0 means
the weight is noise to it). The full pipeline's nDCG@10, with the default and with shape
weights, is reported beside them. Real models and the real store, 2 CPU cores: whole MS
MARCO takes about 8 minutes, a whole XQuAD language about 4.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.quality_bench import collection_arguments, per_collection, summary


def signal_report(
    weights: Sequence[Mapping[str, float]],
    alone: Mapping[str, Sequence[float]],
    floor: float,
) -> dict[str, dict[str, Any]]:
    """Per signal: its nDCG@10 alone, queries at the floor weight, mean weight share, and the
    Spearman correlation of its weight with its own nDCG@10 (None when either is constant)."""
    from scipy.stats import spearmanr

    out: dict[str, dict[str, Any]] = {}
    for signal, quality in alone.items():
        w = np.array([q.get(signal, 0.0) for q in weights], dtype=float)
        total = np.array([sum(q.values()) or 1.0 for q in weights], dtype=float)
        ndcg = np.asarray(quality, dtype=float)
        rho: float | None = None
        if np.ptp(w) > 0 and np.ptp(ndcg) > 0:
            rho = round(float(spearmanr(w, ndcg).statistic), 3)
        out[signal] = {
            "ndcg@10 alone": round(float(ndcg.mean()), 3),
            "queries at floor": int(np.sum(w <= floor + 1e-9)),
            "mean weight share": round(float(np.mean(w / total)), 3),
            "spearman(weight, own ndcg)": rho,
        }
    return out


def measure(dataset: Any, settings: Any, models: Any) -> dict[str, Any]:
    from eval.dataset import QueryItem
    from eval.runner import RunConfig, eval_settings, index_dataset, run_queries
    from rag.runtime import Runtime
    from rag.search.pipeline import SearchOptions
    from rag.search.results import SearchResponse
    from rerankers.calibration import LEXICAL, MULTI_DENSE, TEXT_DENSE, Calibration
    from rerankers.fusion import FusionParams

    ids = [q.id for q in dataset.judged_queries]
    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        searcher = runtime.searcher(Calibration())
        shaped = runtime.searcher(Calibration(), fusion=FusionParams(shape=True))
        config = RunConfig("full", SearchOptions(), 30)
        report = run_queries(dataset, indexed, searcher, config).to_json(dataset)
        by_query: dict[str, dict[str, float]] = {}

        def read_weights(query: QueryItem, response: SearchResponse) -> None:
            explain = response.results[0].explain if response.results else None
            by_query[query.id] = dict((explain or {}).get("weights") or {})

        # the shape weights of each query, read from the same search that ranks it
        shaped_report = run_queries(dataset, indexed, shaped, config, observe=read_weights).to_json(
            dataset
        )
        weights = [by_query.get(i, {}) for i in ids]  # a failed query has none
        alone: dict[str, list[float]] = {}
        for signal in (TEXT_DENSE, MULTI_DENSE, LEXICAL):
            config = RunConfig(signal, SearchOptions(signals=(signal,)), 0)
            one = run_queries(dataset, indexed, searcher, config).to_json(dataset)
            alone[signal] = summary(one["metrics"]["all"], one["per_query"], ids)["per_query"]
    return {
        "queries": len(ids),
        "full": summary(report["metrics"]["all"])["ndcg@10"],
        "full, shape weights": summary(shaped_report["metrics"]["all"])["ndcg@10"],
        "signals": signal_report(weights, alone, FusionParams().floor),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = collection_arguments(parser, ["msmarco"]).parse_args(argv)
    return per_collection(args, measure)


if __name__ == "__main__":
    main()
