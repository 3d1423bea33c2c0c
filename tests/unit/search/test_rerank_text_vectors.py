"""What reranking needs from a unit's text is computed at index time (issue 15): the text
model's vector of a richer rerank context (a title + chunk, a speech segment with its
neighbours) is stored with the unit, used at query time as a dot product, rewritten on
re-index, and ignored once the text model changed (the context is then encoded again).
On both store backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder, FakeTranscriber
from rag.search.pipeline import Searcher
from rag.search.request import SearchRequest
from rag.settings import Settings
from rag.store.base import Filter, MatchValue, StoredPoint, VectorStore
from rag.store.collections import Field, rerank_context
from rag.store.edge import EmbeddedStore
from rag.store.server import ServerStore
from rerankers.calibration import RERANK_TEXT, Calibration
from rerankers.cross_modal import CrossModalReranker, RerankCandidate, RerankQuery
from tests.media import write_wav

# A section long enough for several chunks: all but the first lack the heading.
TITLED = "# Tides\n\n" + " ".join(f"Horses gallop along the beach, lap {i}." for i in range(40))
PLAIN = "The red train arrives at the station every hour."


def _registry(settings: Settings, text: FakeTextEmbedder) -> ModelRegistry:
    clip, ocr, whisper = FakeClip(), FakeOcr(""), FakeTranscriber()
    return ModelRegistry(
        settings,
        loaders={
            "text": lambda _: text,
            "clip": lambda _: clip,
            "ocr": lambda _: ocr,
            "whisper": lambda _: whisper,
            "multilingual": lambda _: FakeMultilingual(),
        },
    )


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s: VectorStore = (
        EmbeddedStore(tmp_path / "qdrant")
        if request.param == "embedded"
        else ServerStore(location=":memory:")
    )
    yield s
    s.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "tides.md").write_text(TITLED)
    (root / "trains.txt").write_text(PLAIN)
    # three loud seconds: three segments, each with its neighbours as context
    write_wav(root / "talk.wav", [(1, True), (1, True), (1, True)])
    return root


def _live(store: VectorStore) -> list[StoredPoint]:
    points: list[StoredPoint] = []
    for name in ("mmrag_text", "mmrag_audio"):
        found, _ = store.scroll(name, Filter(must=(MatchValue("state", "live"),)), limit=100)
        points += found
    return points


def _modality(point: StoredPoint) -> str:
    return str(point.payload[Field.MODALITY])


def _candidate(point: StoredPoint, query_vector: Any, text: FakeTextEmbedder) -> RerankCandidate:
    """As the search pipeline hands it over: the first stage's dense score of ``text``."""
    first = float(text.encode([point.payload[Field.TEXT]])[0] @ query_vector)
    return RerankCandidate(point.id, _modality(point), point.payload, first)


def test_the_stored_vector_is_a_fresh_encoding_of_the_rerank_context(
    settings: Settings, store: VectorStore, corpus: Path
) -> None:
    text = FakeTextEmbedder()
    assert Indexer(settings, _registry(settings, text), store).index_paths([corpus]).ok
    points = _live(store)
    richer = [p for p in points if rerank_context(_modality(p), p.payload) != p.payload["text"]]
    assert {_modality(p) for p in richer} == {"text", "audio"}  # the title, the neighbours
    assert len([p for p in richer if _modality(p) == "audio"]) == 3
    for point in points:
        context = rerank_context(_modality(point), point.payload)
        if point in richer:
            stored = np.asarray(point.payload[Field.RERANK_TEXT], dtype=np.float32)
            assert np.allclose(stored, text.encode([context])[0], atol=1e-6)
            assert point.payload[Field.MODELS]["text"] == text.version
        else:  # the first-stage score is the rerank score: nothing to store
            assert Field.RERANK_TEXT not in point.payload


def test_reranking_is_a_dot_product_with_no_encoding(
    settings: Settings, store: VectorStore, corpus: Path
) -> None:
    text = FakeTextEmbedder()
    models = _registry(settings, text)
    assert Indexer(settings, models, store).index_paths([corpus]).ok
    query_vector = text.encode(["horses at the beach"])[0]
    points = _live(store)
    candidates = [_candidate(p, query_vector, text) for p in points]
    calls = text.calls
    scores = CrossModalReranker(models).score(
        RerankQuery("horses at the beach", query_vector, None, None), candidates
    )
    assert text.calls == calls  # no context encoded at query time
    for point in points:
        fresh = text.encode([rerank_context(_modality(point), point.payload)])[0]
        assert scores[point.id][RERANK_TEXT] == pytest.approx(float(fresh @ query_vector), abs=1e-5)

    # the served path: only the query itself is encoded
    searcher = Searcher(settings, models, store, Calibration())
    calls = text.calls
    response = searcher.search(SearchRequest(text="horses at the beach", k=10), tenant="default")
    assert response.results
    assert "rerank" in response.timings_ms
    assert text.calls == calls + 1


def test_reindexing_rewrites_the_vector(
    settings: Settings, store: VectorStore, corpus: Path
) -> None:
    text = FakeTextEmbedder()
    models = _registry(settings, text)
    assert Indexer(settings, models, store).index_paths([corpus]).ok
    (corpus / "tides.md").write_text(TITLED.replace("Tides", "Seaside ponies"))
    assert Indexer(settings, models, store).index_paths([corpus]).ok
    titled = [p for p in _live(store) if Field.RERANK_TEXT in p.payload and _modality(p) == "text"]
    assert titled
    for point in titled:
        assert point.payload[Field.TITLE] == "Seaside ponies"
        context = rerank_context("text", point.payload)
        assert context.startswith("Seaside ponies\n")
        stored = np.asarray(point.payload[Field.RERANK_TEXT], dtype=np.float32)
        assert np.allclose(stored, text.encode([context])[0], atol=1e-6)


def test_another_text_model_encodes_the_context_until_reindexed(
    settings: Settings, store: VectorStore, corpus: Path
) -> None:
    old_text, new_text = FakeTextEmbedder(), FakeTextEmbedder()
    new_text.version = "fake-text-retrained"
    assert Indexer(settings, _registry(settings, old_text), store).index_paths([corpus]).ok
    new_models = _registry(settings, new_text)
    query_vector = new_text.encode(["horses at the beach"])[0]
    query = RerankQuery("horses at the beach", query_vector, None, None)
    old = [p for p in _live(store) if Field.RERANK_TEXT in p.payload]
    # a stale vector that would score differently: it must not be read
    for point in old:
        point.payload[Field.RERANK_TEXT] = [0.0] * new_text.dim
    calls = new_text.calls
    scores = CrossModalReranker(new_models).score(
        query, [RerankCandidate(p.id, _modality(p), p.payload, 0.5) for p in old]
    )
    assert new_text.calls == calls + 1  # the fallback: one batch encoding the contexts
    for point in old:
        fresh = new_text.encode([rerank_context(_modality(point), point.payload)])[0]
        assert scores[point.id][RERANK_TEXT] == pytest.approx(float(fresh @ query_vector), abs=1e-5)

    assert Indexer(settings, new_models, store).index_paths([corpus]).ok
    renewed = [p for p in _live(store) if Field.RERANK_TEXT in p.payload]
    assert len(renewed) == len(old)
    assert {p.payload[Field.MODELS]["text"] for p in renewed} == {"fake-text-retrained"}
    calls = new_text.calls
    CrossModalReranker(new_models).score(
        query, [RerankCandidate(p.id, _modality(p), p.payload, 0.5) for p in renewed]
    )
    assert new_text.calls == calls
