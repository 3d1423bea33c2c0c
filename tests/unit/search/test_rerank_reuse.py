"""The reranker reuses the first stage's dense score when the context is the embedded text."""

from __future__ import annotations

import numpy as np
import pytest

from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeTextEmbedder
from rag.settings import Settings
from rerankers.calibration import RERANK_TEXT
from rerankers.cross_modal import CrossModalReranker, RerankCandidate, RerankQuery


@pytest.fixture
def text_model() -> FakeTextEmbedder:
    return FakeTextEmbedder()


@pytest.fixture
def reranker(settings: Settings, text_model: FakeTextEmbedder) -> CrossModalReranker:
    clip = FakeClip()
    models = ModelRegistry(
        settings,
        loaders={
            "text": lambda _: text_model,
            "clip": lambda _: clip,
            "multilingual": lambda _: FakeMultilingual(),
        },
    )
    return CrossModalReranker(models)


def _query(text_model: FakeTextEmbedder, text: str) -> RerankQuery:
    return RerankQuery(text, text_model.encode([text])[0], None, None)


def test_unchanged_text_is_not_encoded_again(
    reranker: CrossModalReranker, text_model: FakeTextEmbedder
) -> None:
    query = _query(text_model, "horses on the beach")
    plain = "Horses gallop along the beach."
    stored = float(text_model.encode([plain])[0] @ query.text_vector)  # as the first stage saw it
    calls = text_model.calls
    scores = reranker.score(query, [RerankCandidate("a", "text", {"text": plain}, stored)])
    assert text_model.calls == calls
    assert scores["a"][RERANK_TEXT] == stored


def test_richer_context_is_encoded_and_matches_a_fresh_encoding(
    reranker: CrossModalReranker, text_model: FakeTextEmbedder
) -> None:
    query = _query(text_model, "horses on the beach")
    candidates = [
        # a title the chunk does not contain, and speech with its neighbouring segments
        RerankCandidate("t", "text", {"text": "They gallop.", "title": "Horses"}, 0.1),
        RerankCandidate("s", "audio", {"text": "low tide", "context": "horses at low tide"}, 0.2),
        RerankCandidate("n", "text", {"text": "the beach at noon"}),  # no first-stage score
    ]
    calls = text_model.calls
    scores = reranker.score(query, candidates)
    assert text_model.calls == calls + 1  # one batch for the three
    contexts = ["Horses\nThey gallop.", "horses at low tide", "the beach at noon"]
    expected = text_model.encode(contexts)
    for cid, vector in zip("tsn", expected, strict=True):
        assert scores[cid][RERANK_TEXT] == pytest.approx(float(vector @ query.text_vector))
    assert not np.isclose(scores["t"][RERANK_TEXT], 0.1)
