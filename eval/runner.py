"""Run an evaluation dataset through the real pipeline: index its corpus into an isolated
collection prefix, search every query, score the ranking per query, modality and direction."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eval.dataset import Dataset, QueryItem
from eval.honesty import mark_meaningful
from eval.metrics import CURVE_K, curve, evaluate, latency, mean
from indexers.report import IndexReport
from rag.models import ModelRegistry
from rag.runtime import Runtime
from rag.search.pipeline import Searcher, SearchOptions
from rag.search.request import SearchRequest
from rag.search.results import SearchResponse
from rag.settings import Settings
from rerankers.calibration import (
    CLIP_IMAGE,
    CLIP_TEXT,
    LEXICAL,
    MULTI_DENSE,
    TEXT_DENSE,
    Calibration,
)

logger = logging.getLogger(__name__)

DENSE = (TEXT_DENSE, MULTI_DENSE, CLIP_TEXT, CLIP_IMAGE)
ALL_SIGNALS = (*DENSE, LEXICAL)


@dataclass(frozen=True)
class RunConfig:
    name: str
    options: SearchOptions
    rerank_depth: int


def ablations(rerank_depth: int = 30) -> list[RunConfig]:
    """Each stage added in turn: what it contributes, measured on the same data."""
    return [
        RunConfig("dense", SearchOptions(signals=DENSE, fusion="fixed", calibrate=False), 0),
        RunConfig(
            "+sparse (rrf)", SearchOptions(signals=ALL_SIGNALS, fusion="rrf", calibrate=False), 0
        ),
        RunConfig("+calibration (adaptive)", SearchOptions(signals=ALL_SIGNALS), 0),
        RunConfig("+rerank", SearchOptions(signals=ALL_SIGNALS), rerank_depth),
    ]


FULL = RunConfig("full", SearchOptions(signals=ALL_SIGNALS), 30)


@dataclass
class IndexedDataset:
    """Where a dataset's corpus lives in the index, and how hits map back to corpus ids."""

    settings: Settings
    text_source: str | None
    text_ids: list[str]
    file_ids: dict[str, str]  # source uri -> corpus id
    report: IndexReport | None = None

    def corpus_id(self, payload: dict[str, Any]) -> str | None:
        source = payload.get("source")
        if source == self.text_source:
            record = (payload.get("locator") or {}).get("record")
            if isinstance(record, int) and 0 <= record < len(self.text_ids):
                return self.text_ids[record]
            return None
        return self.file_ids.get(str(source))


def eval_settings(settings: Settings, dataset: Dataset) -> Settings:
    """An isolated store (``<data dir>/eval``) and collection prefix per dataset."""
    digest = hashlib.sha256(str(dataset.root.resolve()).encode()).hexdigest()[:8]
    slug = "".join(c if c.isalnum() else "_" for c in dataset.name.lower())[:24]
    return settings.model_copy(
        update={
            "data_dir": settings.data_dir / "eval",
            "store": settings.store.model_copy(update={"collection_prefix": f"ev_{slug}_{digest}"}),
        }
    )


def index_dataset(dataset: Dataset, runtime: Runtime) -> IndexedDataset:
    """Index the corpus into the runtime's store (idempotent: a second run finds everything
    unchanged)."""
    settings = runtime.settings
    work = settings.data_dir / "datasets" / settings.store.collection_prefix
    work.mkdir(parents=True, exist_ok=True)
    text_items = [item for item in dataset.corpus if item.file is None]
    text_source = None
    paths: list[Path] = []
    if text_items:
        corpus_file = work / "corpus-text.jsonl"
        content = "".join(
            json.dumps({"_id": i.id, "title": i.title or "", "text": i.text or ""}) + "\n"
            for i in text_items
        )
        if not corpus_file.is_file() or corpus_file.read_text() != content:
            corpus_file.write_text(content)
        text_source = corpus_file.resolve().as_posix()
        paths.append(corpus_file)
    file_ids: dict[str, str] = {}
    for item in dataset.corpus:
        if item.file is not None:
            file_ids[item.file.resolve().as_posix()] = item.id
            paths.append(item.file)
    report = runtime.indexer().index_paths(paths, recursive=False)
    if not report.ok:
        failed = report.to_json()["failed"][:5]
        logger.warning(
            "%d corpus file(s) failed to index: %s", len(report.to_json()["failed"]), failed
        )
    return IndexedDataset(settings, text_source, [i.id for i in text_items], file_ids, report)


@dataclass
class QueryResult:
    query_id: str
    direction: str
    ranking: dict[str, float]
    ms: float
    error: str | None = None


@dataclass
class RunResult:
    dataset: str
    config: str
    results: list[QueryResult] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self, dataset: Dataset) -> dict[str, Any]:
        run = {r.query_id: r.ranking for r in self.results}
        ran = {r.query_id for r in self.results}
        per_query = evaluate({q: d for q, d in dataset.qrels.items() if q in ran}, run)
        directions: dict[str, list[str]] = {}
        modalities: dict[str, set[str]] = {}
        queries = {q.id: q for q in dataset.queries}
        by_id = dataset.corpus_by_id
        for r in self.results:
            if r.query_id in per_query:
                directions.setdefault(r.direction, []).append(r.query_id)
                seen = modalities.setdefault(r.direction, set())
                if r.query_id in queries:
                    seen.add(queries[r.query_id].modality.value)
                seen.update(
                    by_id[doc].modality.value
                    for doc, grade in dataset.qrels.get(r.query_id, {}).items()
                    if grade > 0 and doc in by_id
                )
        scored = [r.query_id for r in self.results if r.query_id in per_query]
        overall = mean(per_query, scored)
        by_direction = {
            d: mean(per_query, ids) | {"queries": len(ids), "modalities": sorted(modalities[d])}
            for d, ids in sorted(directions.items())
        }
        output = {
            "dataset": self.dataset,
            "config": self.config,
            "meta": self.meta,
            "metrics": {
                "all": overall,
                "by_direction": by_direction,
                "curves": {
                    "k": list(CURVE_K),
                    "all": curve(overall),
                    "by_direction": {d: curve(m) for d, m in by_direction.items()},
                },
            },
            "latency": latency([r.ms for r in self.results]),
            "errors": [{"query": r.query_id, "error": r.error} for r in self.results if r.error],
            "per_query": per_query,
            "query_directions": {
                r.query_id: r.direction for r in self.results if r.query_id in per_query
            },
        }
        return mark_meaningful(output)


def run_queries(
    dataset: Dataset,
    indexed: IndexedDataset,
    searcher: Searcher,
    config: RunConfig,
    *,
    k: int = 100,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    observe: Callable[[QueryItem, SearchResponse], None] | None = None,
) -> RunResult:
    """Search every judged query (the first ``limit``) with ``config`` and record its ranking.
    ``observe``: called with each query and its response, which then carries ``explain``
    (what each stage scored), so a caller reads both from the one search; the query's
    recorded time then includes building that explain."""
    queries = dataset.judged_queries[:limit] if limit else dataset.judged_queries
    result = RunResult(dataset.name, config.name)
    for n, query in enumerate(queries, 1):
        started = time.perf_counter()
        try:
            request = _request(query, k, config.rerank_depth)
            if observe is not None:
                request = replace(request, explain=True)
            response = searcher.search(request, tenant="default", options=config.options)
        except Exception as exc:  # noqa: BLE001 - one failing query is recorded, not fatal
            result.results.append(
                QueryResult(query.id, dataset.direction(query), {}, 0.0, str(exc))
            )
            continue
        ms = (time.perf_counter() - started) * 1000
        ranking: dict[str, float] = {}
        for hit in response.results:
            doc = indexed.corpus_id(_hit_payload(hit))
            if doc is not None and doc not in ranking:
                # The pipeline's order, as exact descending numbers: hit scores are rounded
                # probabilities, so strong matches tie at 1.0 and trec_eval would break the
                # tie by document id, not by the order the service returned.
                ranking[doc] = float(len(response.results) - len(ranking))
        result.results.append(QueryResult(query.id, dataset.direction(query), ranking, ms))
        if observe is not None:
            observe(query, response)
        if progress:
            progress(n, len(queries))
    return result


def _hit_payload(hit: Any) -> dict[str, Any]:
    return {"source": hit.source, "locator": hit.locator.model_dump()}


def _request(query: QueryItem, k: int, rerank_depth: int) -> SearchRequest:
    if query.file is None:
        return SearchRequest(text=query.text, k=k, rerank_depth=rerank_depth)
    data = query.file.read_bytes()
    if query.modality.value == "image":
        return SearchRequest(text=query.text, image=data, k=k, rerank_depth=rerank_depth)
    return SearchRequest(text=query.text, audio=data, k=k, rerank_depth=rerank_depth)


def evaluate_configs(
    dataset: Dataset,
    settings: Settings,
    models: ModelRegistry,
    calibration: Calibration,
    configs: Sequence[RunConfig],
    *,
    limit: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Index the dataset into its isolated store, then run every config on it."""
    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        searcher = runtime.searcher(calibration)
        outputs = []
        for config in configs:
            step = (lambda n, total, c=config.name: progress(c, n, total)) if progress else None
            run = run_queries(dataset, indexed, searcher, config, limit=limit, progress=step)
            run.meta = {
                "models": {k: models.version(k) for k in ("text", "clip", "whisper")},
                "clip_random": bool(models.status()["clip"].warning),
                "calibration": calibration.version,
                "rerank_depth": config.rerank_depth,
            }
            outputs.append(run.to_json(dataset))
        return outputs
