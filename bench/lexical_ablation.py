"""What each part of mmrag's lexical processing is worth, per language, against plain BM25.

    .venv/bin/python -m bench.lexical_ablation [--collections el de ...] [--docs 240]
        [--queries 100] [--whole]

On the same subsets as ``bench.quality_bench`` it ranks every query by the lexical signal
alone, computed the way the store computes it (qdrant-edge's ``Bm25`` document and query
vectors after ``rag.lexical.normalise``, IDF over the subset), with one part of the
processing changed at a time: no Snowball stemmer, no stopwords, neither, the average
document length set to the subset's own (Qdrant's default is 256 words), and stemmed and
unstemmed words in one vector (their weights added, as a stemmed field and an exact field
are in a multi-field query). Plain BM25 (``bench.quality_bench.bm25_rankings``) is the
reference. No model is loaded: a collection takes seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality_bench import COLLECTIONS, bm25_rankings, collection, metrics, passage, tokens

Sparse = dict[int, float]

# name -> (stemmer, stopwords, average length: None = Qdrant's default, "subset" = measured)
VARIANTS: dict[str, tuple[bool, bool, str | None]] = {
    "mmrag": (True, True, None),
    "no stemmer": (False, True, None),
    "no stopwords": (True, False, None),
    "neither": (False, False, None),
    "subset length": (True, True, "subset"),
    "neither, subset length": (False, False, "subset"),
}


def _model(language: str, *, stem: bool, stop: bool, avg_len: float | None) -> Any:
    """The service's own encoder construction (``rag.lexical._build``), one part switched."""
    from rag.lexical import _build

    return _build(language, stem=stem, stop=stop, avg_len=avg_len)


def _vectors(model: Any, texts: Sequence[str], language: str, *, query: bool) -> list[Sparse]:
    from rag.lexical import normalise

    embed = model.embed_query if query else model.embed_document
    out = []
    for text in texts:
        vector = embed(normalise(text, language))
        out.append(dict(zip(vector.indices, vector.values, strict=True)))
    return out


def _merge(a: Sparse, b: Sparse, *, add: bool) -> Sparse:
    out = dict(a)
    for index, value in b.items():
        out[index] = out.get(index, 0.0) + value if add else max(out.get(index, 0.0), value)
    return out


def scores(docs: Sequence[Sparse], queries: Sequence[Sparse]) -> np.ndarray:
    """Each query's score of each document, with the engine's IDF over ``docs``."""
    df: dict[int, int] = {}
    for doc in docs:
        for index in doc:
            df[index] = df.get(index, 0) + 1
    n = len(docs)
    idf = {i: float(np.log(1 + (n - f + 0.5) / (f + 0.5))) for i, f in df.items()}
    out = np.zeros((len(queries), n), dtype=np.float32)
    for qi, query in enumerate(queries):
        weights = {i: idf[i] for i in query if i in idf}
        for di, doc in enumerate(docs):
            out[qi, di] = sum(doc.get(i, 0.0) * w for i, w in weights.items())
    return out


def ablate(dataset: Any, language: str) -> dict[str, float]:
    docs = [passage(c) for c in dataset.corpus]
    ids = [c.id for c in dataset.corpus]
    queries = [q.text or "" for q in dataset.judged_queries]
    subset_len = float(np.mean([len(tokens(d)) for d in docs]))
    row = {"plain BM25": metrics(dataset, bm25_rankings(docs, queries), ids, matches_only=True)}
    built: dict[str, tuple[list[Sparse], list[Sparse]]] = {}
    for name, (stem, stop, length) in VARIANTS.items():
        model = _model(
            language, stem=stem, stop=stop, avg_len=subset_len if length == "subset" else None
        )
        d, q = (
            _vectors(model, docs, language, query=False),
            _vectors(model, queries, language, query=True),
        )
        built[name] = (d, q)
        row[name] = metrics(dataset, scores(d, q), ids, matches_only=True)
    (sd, sq), (rd, rq) = built["mmrag"], built["no stemmer"]
    row["stemmed + unstemmed"] = metrics(
        dataset,
        scores(
            [_merge(a, b, add=True) for a, b in zip(sd, rd, strict=True)],
            [_merge(a, b, add=False) for a, b in zip(sq, rq, strict=True)],
        ),
        ids,
        matches_only=True,
    )
    return {name: m["ndcg@10"] for name, m in row.items()} | {
        "words per passage": round(subset_len, 1)
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from rag.lexical import FALLBACK_LANGUAGE, LANGUAGES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    single = [c for c in COLLECTIONS if "-" not in c]
    parser.add_argument("--collections", nargs="+", default=single, choices=single)
    parser.add_argument("--docs", type=int, default=240)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--whole", action="store_true", help="each collection whole")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.whole:
        args.docs = args.queries = None
    work = Path(tempfile.mkdtemp(prefix="mmrag-lexical-"))
    report: dict[str, Any] = {}
    try:
        for name in args.collections:
            dataset = collection(name, work, args.docs, args.queries)
            report[name] = ablate(dataset, name if name in LANGUAGES else FALLBACK_LANGUAGE)
            print(json.dumps({name: report[name]}, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


if __name__ == "__main__":
    main()
