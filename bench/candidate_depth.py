"""A default request (k 10) at the old and the fixed candidate depth: quality and latency.

    .venv/bin/python -m bench.candidate_depth [--collections msmarco cranfield de ...]
        [--docs 240] [--queries 100] [--whole] [--cache DIR] [--out FILE]

Fusion reads each signal's reliability over the candidates the store returns, so how many
it returns changes the order. The search pipeline used to ask each signal for
max(offset + k, rerank_depth, 20): 30 for a default request, 100 for the k 100 that every
evaluation runs. It now asks for ``search.candidate_depth`` (100) whatever k is. On one
index per collection (the subsets of ``bench.quality_bench``) this runs every query as a
default request (k 10, rerank 30) at the old depth and at the new one, side by side:
nDCG@10 and the paired sign-flip p-value, and the p50 and p95 latency of the whole search
(the first request of each depth, which loads models, is left out).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.quality_bench import collection_arguments, per_collection, summary

OLD_DEPTH = 20  # max(offset + k, rerank_depth, 20): 30 for a default request


def measure(dataset: Any, settings: Any, models: Any, depths: Sequence[int]) -> dict[str, Any]:
    from eval.compare import paired_p_value
    from eval.runner import RunConfig, eval_settings, index_dataset, run_queries
    from rag.runtime import Runtime
    from rag.search.pipeline import Searcher, SearchOptions
    from rag.search.request import SearchRequest
    from rerankers.calibration import Calibration

    ids = [q.id for q in dataset.judged_queries]
    out: dict[str, Any] = {"queries": len(ids)}
    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        per_query: dict[int, list[float]] = {}
        for depth in depths:
            search = runtime.settings.search.model_copy(update={"candidate_depth": depth})
            s = runtime.settings.model_copy(update={"search": search})
            searcher = Searcher(s, runtime.models, runtime.store, Calibration())
            config = RunConfig(f"depth {depth}", SearchOptions(), 30)
            report = run_queries(dataset, indexed, searcher, config, k=10).to_json(dataset)
            row = summary(report["metrics"]["all"], report["per_query"], ids)
            per_query[depth] = row.pop("per_query")
            searcher.search(SearchRequest(text="warm up"), tenant="default")
            ms = []
            for query in dataset.judged_queries:
                started = time.perf_counter()
                searcher.search(SearchRequest(text=query.text), tenant="default")
                ms.append((time.perf_counter() - started) * 1000)
            row["p50_ms"] = round(float(np.percentile(ms, 50)), 1)
            row["p95_ms"] = round(float(np.percentile(ms, 95)), 1)
            out[f"depth {depth}"] = row
        old, new = per_query[depths[0]], per_query[depths[-1]]
        out["new - old"] = {
            "ndcg@10": round(float(np.mean(new) - np.mean(old)), 4),
            "queries better / worse": [
                int(sum(n > o for o, n in zip(old, new, strict=True))),
                int(sum(n < o for o, n in zip(old, new, strict=True))),
            ],
            "p": round(paired_p_value(old, new), 4),
        }
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = collection_arguments(parser, ["msmarco", "cranfield", "de"]).parse_args(argv)

    def run(dataset: Any, settings: Any, models: Any) -> dict[str, Any]:
        return measure(dataset, settings, models, (OLD_DEPTH, settings.search.candidate_depth))

    return per_collection(args, run)


if __name__ == "__main__":
    main()
