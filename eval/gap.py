"""Modality-gap check: does mixing modalities in one index cost retrieval quality?

For each direction of a mixed dataset, the same queries are run against the mixed corpus
(every modality indexed together) and against a corpus holding only that direction's target
modality (qrels restricted to it); recall@10 and nDCG@10 are reported with the gap.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eval.dataset import Dataset
from eval.honesty import RANDOM_CLIP_REASON, involves_images
from eval.runner import FULL, RunConfig, eval_settings, index_dataset, run_queries
from rag.models import ModelRegistry
from rag.settings import Settings
from rerankers.calibration import Calibration

GAP_METRICS = ("recall@10", "ndcg@10")


def select_queries(dataset: Dataset, per_direction: int | None) -> Dataset:
    """The judged queries, at most ``per_direction`` of each direction (None: all)."""
    counts: dict[str, int] = {}
    keep = []
    for query in dataset.judged_queries:
        direction = dataset.direction(query)
        if per_direction is None or counts.get(direction, 0) < per_direction:
            counts[direction] = counts.get(direction, 0) + 1
            keep.append(query)
    return replace(dataset, queries=keep)


def single_modality(dataset: Dataset, direction: str) -> Dataset:
    """The direction's queries against a corpus holding only its target modality."""
    target = direction.partition("->")[2]
    corpus = [item for item in dataset.corpus if item.modality.value == target]
    ids = {item.id for item in corpus}
    queries = [q for q in dataset.judged_queries if dataset.direction(q) == direction]
    qrels = {
        q.id: {d: g for d, g in dataset.qrels.get(q.id, {}).items() if d in ids} for q in queries
    }
    name = f"{dataset.name}-only-{target}"
    return replace(dataset, name=name, corpus=corpus, queries=queries, qrels=qrels)


def _scores(
    dataset: Dataset,
    settings: Settings,
    models: ModelRegistry,
    calibration: Calibration,
    config: RunConfig,
) -> dict[str, Any]:
    from rag.runtime import Runtime

    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        searcher = runtime.searcher(calibration)
        run = run_queries(dataset, indexed, searcher, config)
        run.meta = {"clip_random": bool(models.status()["clip"].warning)}
        return run.to_json(dataset)


def modality_gap(
    dataset: Dataset,
    settings: Settings,
    models: ModelRegistry,
    calibration: Calibration,
    *,
    per_direction: int | None = None,
    config: RunConfig = FULL,
) -> dict[str, Any]:
    selected = select_queries(dataset, per_direction)
    mixed = _scores(selected, settings, models, calibration, config)
    clip_random = bool(mixed["meta"].get("clip_random"))
    directions: dict[str, Any] = {}
    for direction, entry in mixed["metrics"]["by_direction"].items():
        row: dict[str, Any] = {"queries": entry["queries"]}
        if direction.endswith("->mixed"):
            row["skipped"] = "relevant items of several modalities: no single-modality corpus"
        else:
            single = _scores(
                single_modality(selected, direction), settings, models, calibration, config
            )
            alone = single["metrics"]["by_direction"].get(direction, {})
            for metric in GAP_METRICS:
                row[metric] = {
                    "mixed": entry[metric],
                    "single": alone.get(metric),
                    "gap": None if alone.get(metric) is None else alone[metric] - entry[metric],
                }
        meaningful = not (clip_random and involves_images(direction, entry))
        row["meaningful"] = meaningful
        if not meaningful:
            row["reason"] = RANDOM_CLIP_REASON
        directions[direction] = row
    return {
        "dataset": dataset.name,
        "kind": "modality-gap",
        "config": config.name,
        "per_direction": per_direction,
        "clip_random": clip_random,
        "gap": "single - mixed (positive: mixing modalities costs quality)",
        "directions": directions,
    }
