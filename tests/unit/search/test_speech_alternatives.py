"""Short clips: a clip without recognised words is still indexed (with a warning), and what
Whisper almost heard is searched, never shown as the transcript."""

from __future__ import annotations

from pathlib import Path

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder, FakeTranscriber
from rag.search.pipeline import Searcher
from rag.search.request import SearchFilters, SearchRequest
from rag.search.results import SearchHit
from rag.settings import Settings
from rag.store.edge import EmbeddedStore
from rag.types import Modality
from rerankers.calibration import Calibration
from tests.media import write_wav


def _registry(settings: Settings, whisper: FakeTranscriber) -> ModelRegistry:
    return ModelRegistry(
        settings,
        loaders={
            "text": lambda _: FakeTextEmbedder(),
            "clip": lambda _: FakeClip(),
            "ocr": lambda _: FakeOcr(""),
            "whisper": lambda _: whisper,
            "multilingual": lambda _: FakeMultilingual(),
        },
    )


def _audio(
    settings: Settings, store: EmbeddedStore, models: ModelRegistry, text: str
) -> list[SearchHit]:
    return (
        Searcher(settings, models, store, Calibration())
        .search(
            SearchRequest(text=text, filters=SearchFilters(modalities=(Modality.AUDIO,))),
            tenant="default",
        )
        .results
    )


def test_a_clip_without_words_is_indexed_with_a_warning(settings: Settings, tmp_path: Path) -> None:
    models = _registry(settings, FakeTranscriber())
    store = EmbeddedStore(tmp_path / "qdrant")
    folder = tmp_path / "notes"
    folder.mkdir()
    write_wav(folder / "quokka_memo.wav", [(2, False)])  # silence: nothing to recognise
    write_wav(folder / "talk.wav", [(2, True)])
    report = Indexer(settings, models, store).index_paths([folder])
    data = report.to_json()
    assert report.ok, data
    assert data["indexed"]["audio"] == 2
    assert [w["path"].endswith("quokka_memo.wav") for w in data["warnings"]] == [True]
    assert "no words recognised" in data["warnings"][0]["warning"]
    hits = _audio(settings, store, models, "quokka")
    assert hits
    assert hits[0].source_name == "quokka_memo.wav"
    assert hits[0].snippet == ""  # no transcript is invented
    store.close()


def test_alternatives_are_matched_but_not_shown(settings: Settings, tmp_path: Path) -> None:
    models = _registry(settings, FakeTranscriber(alternatives=["Bye.", "five.", "5."]))
    store = EmbeddedStore(tmp_path / "qdrant")
    folder = tmp_path / "digits"
    folder.mkdir()
    write_wav(folder / "clip.wav", [(1, True)])
    assert Indexer(settings, models, store).index_paths([folder]).ok
    hits = _audio(settings, store, models, "five")
    assert hits
    assert hits[0].source_name == "clip.wav"
    assert "five" not in hits[0].snippet.lower()
    assert _audio(settings, store, models, "5")[0].source_name == "clip.wav"
    store.close()


def test_alternatives_are_part_of_the_units_identity(settings: Settings, tmp_path: Path) -> None:
    """Changing how many alternatives are kept re-indexes audio (another recipe)."""
    folder = tmp_path / "digits"
    folder.mkdir()
    write_wav(folder / "clip.wav", [(1, True)])
    store = EmbeddedStore(tmp_path / "qdrant")
    first = Indexer(settings, _registry(settings, FakeTranscriber()), store).index_paths([folder])
    assert first.to_json()["indexed"]["audio"] == 1
    again = Indexer(settings, _registry(settings, FakeTranscriber()), store).index_paths([folder])
    assert again.to_json()["unchanged"]["audio"] == 1
    other = settings.model_copy(
        update={
            "models": settings.models.model_copy(
                update={"whisper": settings.models.whisper.model_copy(update={"alternatives": 0})}
            )
        }
    )
    changed = Indexer(other, _registry(other, FakeTranscriber()), store).index_paths([folder])
    assert changed.to_json()["indexed"]["audio"] == 1
    store.close()
