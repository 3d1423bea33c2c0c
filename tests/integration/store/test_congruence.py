"""The same writes and queries on both backends must give the same results.

The server backend runs through qdrant-client's local mode (no Qdrant server can run here); it
speaks the same client API as a real server."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.store.base import (
    CollectionSpec,
    Filter,
    HasId,
    MatchAny,
    MatchValue,
    PointRecord,
    Range,
    ScoredPoint,
    SparseVector,
    VectorQuery,
    VectorStore,
)
from rag.store.edge import EmbeddedStore
from rag.store.server import ServerStore

SPEC = CollectionSpec(
    dense={"text": 8, "clip": 6},
    sparse=("bm25",),
    keyword_indexes=("tenant", "modality", "source"),
    float_indexes=("locator.start_s",),
)
WORDS = [
    "apple",
    "banana",
    "cherry",
    "delta",
    "echo",
    "fox",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]
COLLECTION = "congruence_text"


def _points(seed: int = 7, n: int = 120) -> list[PointRecord]:
    from qdrant_edge import Bm25

    rng = random.Random(seed)
    bm25 = Bm25()
    points = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        sparse = bm25.embed_document(text)
        vectors: dict[str, object] = {
            "text": [rng.gauss(0, 1) for _ in range(8)],
            "bm25": SparseVector(tuple(sparse.indices), tuple(sparse.values)),
        }
        if i % 3:
            vectors["clip"] = [rng.gauss(0, 1) for _ in range(6)]
        points.append(
            PointRecord(
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                vectors=vectors,  # type: ignore[arg-type]
                payload={
                    "tenant": "acme" if i % 2 else "globex",
                    "modality": ["text", "image", "audio"][i % 3],
                    "source": f"/data/file{i % 10}.txt",
                    "locator": {"start_s": float(i), "end_s": float(i) + 1.5},
                    "text": text,
                },
            )
        )
    return points


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s: VectorStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "qdrant")
    else:
        s = ServerStore(location=":memory:")
    s.ensure_collection(COLLECTION, SPEC)
    s.upsert(COLLECTION, _points())
    yield s
    s.close()


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[VectorStore, VectorStore]]:
    embedded = EmbeddedStore(tmp_path / "qdrant")
    server = ServerStore(location=":memory:")
    for s in (embedded, server):
        s.ensure_collection(COLLECTION, SPEC)
        s.upsert(COLLECTION, _points())
    yield embedded, server
    embedded.close()
    server.close()


def _query_vectors() -> list[VectorQuery]:
    from qdrant_edge import Bm25

    rng = random.Random(99)
    sparse = Bm25().embed_query("apple fox kilo")
    sparse_vector = SparseVector(tuple(sparse.indices), tuple(sparse.values))
    filters = [
        None,
        Filter(must=(MatchValue("tenant", "acme"),)),
        Filter(must=(MatchAny("modality", ("image", "audio")),)),
        Filter(must=(Range("locator.start_s", gte=10.0, lt=60.0),)),
        Filter(must_not=(MatchValue("source", "/data/file3.txt"),)),
        Filter(
            must=(MatchValue("tenant", "globex"),),
            should=(MatchValue("modality", "text"), MatchValue("modality", "audio")),
        ),
        Filter(must=(Filter(must_not=(MatchValue("tenant", "acme"),)),)),
    ]
    queries = []
    for where in filters:
        queries.append(VectorQuery("text", [rng.gauss(0, 1) for _ in range(8)], 10, where))
        queries.append(VectorQuery("clip", [rng.gauss(0, 1) for _ in range(6)], 7, where))
        queries.append(VectorQuery("bm25", sparse_vector, 15, where))
    return queries


def _assert_same_hits(a: list[ScoredPoint], b: list[ScoredPoint], context: object) -> None:
    """Same scores in the same order; the same ids, except among points tied at the cut-off
    (either engine may return any of several points with the last score)."""
    scores_a = [round(h.score, 4) for h in a]
    assert scores_a == [round(h.score, 4) for h in b], context
    if not scores_a:
        return
    cutoff = scores_a[-1]
    above_a = {h.id for h in a if round(h.score, 4) > cutoff}
    above_b = {h.id for h in b if round(h.score, 4) > cutoff}
    assert above_a == above_b, context


def test_searches_agree(both: tuple[VectorStore, VectorStore]) -> None:
    embedded, server = both
    queries = _query_vectors()
    got_e = embedded.search_batch(COLLECTION, queries)
    got_s = server.search_batch(COLLECTION, queries)
    assert len(got_e) == len(got_s) == len(queries)
    for query, hits_e, hits_s in zip(queries, got_e, got_s, strict=True):
        assert hits_e, f"no hits for {query.vector_name} {query.filter}"
        _assert_same_hits(hits_e, hits_s, (query.vector_name, query.filter))
        assert hits_e[0].payload == next(h.payload for h in hits_s if h.id == hits_e[0].id)


def test_searches_agree_after_optimize(both: tuple[VectorStore, VectorStore]) -> None:
    embedded, server = both
    embedded.optimize(COLLECTION)
    server.optimize(COLLECTION)
    queries = _query_vectors()
    for hits_e, hits_s in zip(
        embedded.search_batch(COLLECTION, queries),
        server.search_batch(COLLECTION, queries),
        strict=True,
    ):
        _assert_same_hits(hits_e, hits_s, "after optimize")


def test_points_without_a_vector_are_not_found_through_it(store: VectorStore) -> None:
    hits = store.search_batch(COLLECTION, [VectorQuery("clip", [1.0] * 6, 500)])[0]
    assert len(hits) == 80  # every third point has no clip vector


def test_a_search_can_read_only_some_payload_keys(store: VectorStore) -> None:
    """Fusion reads one field of every candidate (its language): a key selector returns that
    key alone, False none, True all of it, on both backends."""
    query = [1.0] * 8
    (only,) = store.search_batch(
        COLLECTION, [VectorQuery("text", query, 20, with_payload=("source",))]
    )
    assert only
    assert all(set(h.payload) == {"source"} for h in only)
    (none,) = store.search_batch(COLLECTION, [VectorQuery("text", query, 20, with_payload=False)])
    assert all(h.payload == {} for h in none)
    (full,) = store.search_batch(COLLECTION, [VectorQuery("text", query, 20)])
    assert all({"source", "text", "tenant"} <= set(h.payload) for h in full)
    assert [h.id for h in only] == [h.id for h in none] == [h.id for h in full]


def test_counts_scroll_retrieve(both: tuple[VectorStore, VectorStore]) -> None:
    for where in [None, Filter(must=(MatchValue("tenant", "acme"),))]:
        counts = {s.backend: s.count(COLLECTION, where) for s in both}
        assert len(set(counts.values())) == 1, counts
    ids_by_backend = []
    for s in both:
        seen: list[str] = []
        offset = None
        while True:
            page, offset = s.scroll(
                COLLECTION, Filter(must=(MatchValue("tenant", "acme"),)), limit=17, offset=offset
            )
            seen += [p.id for p in page]
            if offset is None:
                break
        ids_by_backend.append(sorted(seen))
    assert ids_by_backend[0] == ids_by_backend[1]
    assert len(ids_by_backend[0]) == 60
    some = ids_by_backend[0][:3]
    for s in both:
        got = s.retrieve(COLLECTION, some, with_vectors=True)
        assert sorted(p.id for p in got) == some
        assert all(p.vectors is not None and "text" in p.vectors for p in got)


def test_writes_agree(both: tuple[VectorStore, VectorStore]) -> None:
    ids = [p.id for p in _points()]
    for s in both:
        s.set_payload(COLLECTION, ids[:5], {"state": "live"})
        s.delete_ids(COLLECTION, ids[5:10])
        s.delete_where(COLLECTION, Filter(must=(MatchValue("source", "/data/file1.txt"),)))
    results = []
    for s in both:
        live = s.count(COLLECTION, Filter(must=(MatchValue("state", "live"),)))
        total = s.count(COLLECTION)
        gone = s.retrieve(COLLECTION, ids[5:10])
        results.append((live, total, gone))
    assert results[0] == results[1]
    live, total, gone = results[0]
    assert gone == []
    assert total == 120 - 5 - sum(1 for i in range(120) if i % 10 == 1 and not 5 <= i < 10)
    assert live == sum(1 for i in range(5) if i % 10 != 1)


def test_has_id_filter(both: tuple[VectorStore, VectorStore]) -> None:
    ids = tuple(p.id for p in _points()[:4])
    for s in both:
        assert s.count(COLLECTION, Filter(must=(HasId(ids),))) == 4


def test_embedded_store_survives_reopen(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "qdrant")
    store.ensure_collection(COLLECTION, SPEC)
    store.upsert(COLLECTION, _points())
    store.close()
    reopened = EmbeddedStore(tmp_path / "qdrant")
    reopened.ensure_collection(COLLECTION, SPEC)
    assert reopened.count(COLLECTION) == 120
    reopened.close()


def test_a_second_process_cannot_open_an_embedded_store(tmp_path: Path) -> None:
    import subprocess
    import sys

    store = EmbeddedStore(tmp_path / "qdrant")
    store.ensure_collection(COLLECTION, SPEC)
    code = (
        "import sys; from pathlib import Path; from rag.store.edge import EmbeddedStore;"
        "from rag.errors import StoreLockedError\n"
        "try:\n"  # the store's lock is taken when it is built, before any file is opened
        f"    EmbeddedStore(Path({str(tmp_path / 'qdrant')!r})).count({COLLECTION!r})\n"
        "except StoreLockedError as e:\n"
        "    print('locked:', e.detail); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    store.close()
    assert out.returncode == 0, out.stderr
    assert "open in another process" in out.stdout


def test_dimension_mismatch_is_a_clear_error(store: VectorStore) -> None:
    from rag.errors import StoreError

    wrong = CollectionSpec(dense={"text": 16, "clip": 6}, sparse=("bm25",))
    with pytest.raises(StoreError, match="size 8"):
        store.ensure_collection(COLLECTION, wrong)
