"""The composition root: parts built on first use, once, from what it was handed."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeTextEmbedder
from rag.runtime import Runtime
from rag.search.pipeline import Searcher
from rag.settings import Settings
from rag.store import VectorStore
from rag.store.server import ServerStore
from rerankers.calibration import Calibration
from rerankers.cross_modal import CrossModalReranker
from translators.bridge import Bridge
from translators.service import TranslatorService


def _models(settings: Settings) -> ModelRegistry:
    text, clip = FakeTextEmbedder(), FakeClip()
    return ModelRegistry(settings, loaders={"text": lambda _: text, "clip": lambda _: clip})


def test_parts_are_built_on_first_use_and_the_store_opened_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.store

    opened: list[VectorStore] = []

    def open_store(config: Settings) -> VectorStore:
        opened.append(ServerStore(location=":memory:"))
        return opened[-1]

    monkeypatch.setattr(rag.store, "open_store", open_store)
    runtime = Runtime(settings, models=_models(settings))
    assert isinstance(runtime.translator(), TranslatorService)
    assert opened == []  # translating needs no store
    searcher = runtime.searcher()
    assert isinstance(searcher, Searcher)
    assert runtime.searcher() is searcher  # built once
    assert isinstance(runtime.indexer(), Indexer)
    assert isinstance(runtime.reranker(), CrossModalReranker)
    assert isinstance(runtime.bridge(), Bridge)
    assert opened == [searcher.store]  # opened once, shared
    runtime.close()


def test_an_explicit_calibration_gets_its_own_searcher(settings: Settings) -> None:
    fitted = Calibration(version="test-fit")
    with Runtime(settings, models=_models(settings)) as runtime:
        assert runtime.calibration.version != "test-fit"  # the packaged default
        other = runtime.searcher(fitted)
        assert other.calibration is fitted
        assert runtime.searcher() is not other


def test_it_closes_what_it_opened_and_nothing_it_was_handed(
    settings: Settings, tmp_path: Path
) -> None:
    handed = ServerStore(location=":memory:")
    with Runtime(settings, store=handed) as runtime:
        assert runtime.store is handed
    assert not handed.collection_exists("x")  # still open: the caller closes it
    handed.close()
    with Runtime(settings) as runtime:
        opened = runtime.store
    # Closed on exit: the embedded store's lock is free for the next process.
    with Runtime(settings) as again:
        assert again.store is not opened
