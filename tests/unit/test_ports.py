"""Every fake fits the port of its kind (checked by mypy here and by the registry at run time)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.models import ModelRegistry
from rag.models.fakes import (
    FakeClip,
    FakeLLM,
    FakeOcr,
    FakePairScorer,
    FakeTextEmbedder,
    FakeTranscriber,
)
from rag.models.ports import (
    ChatMessage,
    ImageTextEncoder,
    LLMBackend,
    OcrReader,
    PairScorer,
    TextEmbedder,
    Transcriber,
)
from tests.conftest import SettingsFactory


def test_each_fake_fits_its_port() -> None:
    text: TextEmbedder = FakeTextEmbedder()
    clip: ImageTextEncoder = FakeClip()
    whisper: Transcriber = FakeTranscriber()
    ocr: OcrReader = FakeOcr("hello")
    scorer: PairScorer = FakePairScorer()
    llm: LLMBackend = FakeLLM(["ok"])
    assert isinstance(text, TextEmbedder)
    assert isinstance(llm, LLMBackend)
    assert clip.encode_texts(["a"]).shape == (1, clip.dim)
    assert ocr.text(None) == "hello"  # type: ignore[arg-type]  # the fake never looks
    assert whisper.version == "fake-whisper"
    assert scorer.version == "fake-pair-scorer"
    assert llm.complete([ChatMessage("user", "hi")]) == "ok"


def test_the_fake_pair_scorer_ranks_by_shared_words() -> None:
    scores = FakePairScorer().score("red printing press", ["a red press", "blue sky", ""])
    assert scores.dtype == np.float32
    assert scores.tolist() == pytest.approx([2 / 3, 0.0, 0.0])
    assert FakePairScorer().score("", ["anything"]).tolist() == [0.0]


def test_the_registry_hands_out_a_fake_scorer(make_settings: SettingsFactory) -> None:
    enabled = make_settings(models={"reranker": {"model": "any-cross-encoder"}})
    scorer = FakePairScorer()
    registry = ModelRegistry(enabled, loaders={"reranker": lambda _: scorer})
    assert registry.reranker() is scorer
