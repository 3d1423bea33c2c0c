"""Pipeline logic with fake models and the real embedded engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexers import units as units_module
from indexers.pipeline import Indexer
from indexers.report import FileStatus
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder, FakeTranscriber
from rag.settings import Settings
from rag.store.base import Filter, MatchValue
from rag.store.edge import EmbeddedStore
from rag.types import Modality
from tests.conftest import SettingsFactory
from tests.media import png_bytes, write_wav


class Fakes:
    def __init__(self) -> None:
        self.text = FakeTextEmbedder()
        self.clip = FakeClip()
        self.ocr = FakeOcr("STOP sign")
        self.whisper = FakeTranscriber()

    def registry(self, settings: Settings) -> ModelRegistry:
        return ModelRegistry(
            settings,
            loaders={
                "text": lambda _: self.text,
                "clip": lambda _: self.clip,
                "ocr": lambda _: self.ocr,
                "whisper": lambda _: self.whisper,
                "multilingual": lambda _: FakeMultilingual(),
            },
        )

    @property
    def calls(self) -> int:
        return self.text.calls + self.clip.calls + self.whisper.calls


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "qdrant")
    yield s
    s.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "red.png").write_bytes(png_bytes(color=(220, 20, 20)))
    (root / "blue.png").write_bytes(png_bytes(color=(20, 20, 220)))
    write_wav(root / "talk.wav", [(2, True), (1, False), (2, True)])
    return root


def _indexer(settings: Settings, fakes: Fakes, store: EmbeddedStore) -> Indexer:
    return Indexer(settings, fakes.registry(settings), store)


def _live(store: EmbeddedStore, modality: str) -> list[dict[str, Any]]:
    points, _ = store.scroll(
        f"mmrag_{modality}", Filter(must=(MatchValue("state", "live"),)), limit=1000
    )
    return [p.payload for p in points]


def test_index_then_reindex_calls_no_model_and_adds_nothing(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    first = _indexer(settings, fakes, store).index_paths([corpus])
    assert first.ok
    assert first.counts(FileStatus.INDEXED) == {"text": 0, "image": 2, "audio": 1}
    # the fake transcriber hears one segment per loud second: 0, 1, 3 and 4
    assert first.units() == {"text": 0, "image": 2, "audio": 4}
    counts = {m: store.count(f"mmrag_{m}") for m in ("image", "audio")}
    calls = fakes.calls

    second = _indexer(settings, fakes, store).index_paths([corpus])
    assert second.counts(FileStatus.UNCHANGED) == {"text": 0, "image": 2, "audio": 1}
    assert second.counts(FileStatus.INDEXED) == {"text": 0, "image": 0, "audio": 0}
    assert fakes.calls == calls, "an unchanged corpus must not call any model"
    assert {m: store.count(f"mmrag_{m}") for m in ("image", "audio")} == counts


def test_payload_schema(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    _indexer(settings, fakes, store).index_paths([corpus])
    (image,) = [p for p in _live(store, "image") if p["source_name"] == "red.png"]
    assert image["tenant"] == "default"
    assert image["modality"] == "image"
    assert image["source"] == (corpus / "red.png").resolve().as_posix()
    assert image["text"] == "STOP sign"  # OCR text
    assert image["mime"] == "image/png"
    assert image["unit_count"] == 1
    assert image["models"]["clip"] == "fake-clip-32"
    assert image["models"]["ocr"] == "fake-ocr"
    assert f"{corpus.resolve().as_posix()}/" in image["source_prefixes"]
    segments = sorted(_live(store, "audio"), key=lambda p: p["locator"]["start_s"])
    assert [s["locator"]["start_s"] for s in segments] == [0.0, 1.0, 3.0, 4.0]
    assert segments[0]["language"] == "en"
    assert segments[1]["context"] == "speech at second 0 speech at second 1 speech at second 3"


def test_changed_file_replaces_all_its_units(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    _indexer(settings, fakes, store).index_paths([corpus])
    write_wav(corpus / "talk.wav", [(1, True), (1, False), (1, True), (1, False), (1, True)])
    report = _indexer(settings, fakes, store).index_paths([corpus])
    assert report.counts(FileStatus.INDEXED)["audio"] == 1
    segments = _live(store, "audio")
    assert sorted(s["locator"]["start_s"] for s in segments) == [0.0, 2.0, 4.0]
    assert store.count("mmrag_audio") == 3, "no stale unit may survive"


def test_model_change_re_embeds(
    make_settings: SettingsFactory, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    _indexer(make_settings(), fakes, store).index_paths([corpus])
    fakes.text.version = "fake-text-v2"
    report = _indexer(make_settings(), fakes, store).index_paths([corpus])
    # images and audio both use the text model, so both re-embed; ids change with the model
    assert report.counts(FileStatus.INDEXED) == {"text": 0, "image": 2, "audio": 1}
    assert store.count("mmrag_image") == 2


def test_delete_source_and_folder(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    indexer = _indexer(settings, fakes, store)
    indexer.index_paths([corpus])
    assert indexer.delete_sources([str(corpus / "red.png")]) == 1
    assert [p["source_name"] for p in _live(store, "image")] == ["blue.png"]
    assert indexer.delete_sources([str(corpus)]) == 5
    assert store.count("mmrag_image") == store.count("mmrag_audio") == 0


def test_tenants_are_separate(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    indexer = _indexer(settings, fakes, store)
    indexer.index_paths([corpus / "red.png"], tenant="acme")
    report = indexer.index_paths([corpus / "red.png"], tenant="globex")
    assert report.counts(FileStatus.INDEXED)["image"] == 1  # not "unchanged": other tenant
    assert store.count("mmrag_image") == 2
    assert indexer.delete_sources([str(corpus / "red.png")], tenant="acme") == 1
    assert [p["tenant"] for p in _live(store, "image")] == ["globex"]


def test_one_bad_file_fails_alone_and_leaves_nothing(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    (corpus / "broken.png").write_bytes(png_bytes()[:50])
    (corpus / "silence.wav").write_bytes(b"")
    write_wav(corpus / "quiet.wav", [(2, False)])
    report = _indexer(settings, fakes, store).index_paths([corpus])
    failed = {Path(r.path).name: r.reason for r in report.by_status(FileStatus.FAILED)}
    assert set(failed) == {"broken.png", "silence.wav"}
    assert "truncated" in (failed["broken.png"] or "")
    assert "empty" in (failed["silence.wav"] or "")
    # decodable audio without words: indexed (one unit, no text) and reported as a warning
    warned = {Path(w["path"]).name: w["warning"] for w in report.to_json()["warnings"]}
    assert "no words recognised" in warned["quiet.wav"]
    assert report.counts(FileStatus.INDEXED) == {"text": 0, "image": 2, "audio": 2}
    assert store.count("mmrag_audio") == 5


def test_embedding_failure_is_isolated_to_its_file(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    real = fakes.clip.encode_images

    def picky(images: Any) -> Any:
        if any(im.getpixel((0, 0))[2] > 200 for im in images):
            raise RuntimeError("CUDA error: device-side assert")
        return real(images)

    fakes.clip.encode_images = picky  # type: ignore[method-assign]
    report = _indexer(settings, fakes, store).index_paths([corpus])
    failed = [Path(r.path).name for r in report.by_status(FileStatus.FAILED)]
    assert failed == ["blue.png"]
    assert [p["source_name"] for p in _live(store, "image")] == ["red.png"]


def test_interrupted_run_leaves_nothing_visible(
    settings: Settings,
    fakes: Fakes,
    store: EmbeddedStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long = write_wav(tmp_path / "long.wav", [(1, True), (0.5, False)] * 6)
    real = units_module.audio_units

    def crashing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for i, unit in enumerate(real(*args, **kwargs)):
            if i == 4:
                raise KeyboardInterrupt  # the operator pressed Ctrl-C mid-file
            yield unit

    monkeypatch.setattr(units_module, "audio_units", crashing)
    settings = settings.model_copy(
        update={"index": settings.index.model_copy(update={"batch_units": 2})}
    )
    with pytest.raises(KeyboardInterrupt):
        _indexer(settings, fakes, store).index_paths([long])
    assert _live(store, "audio") == []
    assert store.count("mmrag_audio") == 0, "the interrupted file's written batches are rolled back"

    monkeypatch.setattr(units_module, "audio_units", real)
    report = _indexer(settings, fakes, store).index_paths([long])
    assert report.counts(FileStatus.INDEXED)["audio"] == 1
    assert len(_live(store, "audio")) == report.units()["audio"] == 9


def test_crash_without_rollback_is_invisible_and_repaired(
    settings: Settings,
    fakes: Fakes,
    store: EmbeddedStore,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A killed process cannot roll back: its pending points stay invisible until a re-run."""
    monkeypatch.setattr(Indexer, "_finalize_ready", lambda self: None)
    monkeypatch.setattr(Indexer, "_abort_unfinished", lambda self: None)
    _indexer(settings, fakes, store).index_paths([corpus])
    assert store.count("mmrag_audio") == 4
    assert _live(store, "audio") == []
    monkeypatch.undo()
    report = _indexer(settings, fakes, store).index_paths([corpus])
    assert report.counts(FileStatus.INDEXED) == {"text": 0, "image": 2, "audio": 1}
    assert len(_live(store, "audio")) == 4
    assert store.count("mmrag_audio") == 4


def test_dry_run_writes_nothing_and_calls_no_model(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    report = _indexer(settings, fakes, store).index_paths([corpus], dry_run=True)
    assert report.dry_run
    assert report.counts(FileStatus.INDEXED) == {"text": 0, "image": 2, "audio": 1}
    assert fakes.calls == 0
    assert not store.collection_exists("mmrag_image")


def test_unsupported_files(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    (corpus / "notes.docx").write_bytes(b"PK")
    walk = _indexer(settings, fakes, store).index_paths([corpus])
    assert [Path(r.path).name for r in walk.by_status(FileStatus.SKIPPED)] == ["notes.docx"]
    assert walk.ok
    named = _indexer(settings, fakes, store).index_paths([corpus / "notes.docx"])
    assert not named.ok
    assert named.by_status(FileStatus.FAILED)[0].reason == "unsupported file type .docx"


def test_unreadable_file(
    settings: Settings,
    fakes: Fakes,
    store: EmbeddedStore,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_open = Path.open

    def guarded(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "red.png":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    report = _indexer(settings, fakes, store).index_paths([corpus])
    (failed,) = report.by_status(FileStatus.FAILED)
    assert failed.reason == "permission denied"
    assert report.counts(FileStatus.INDEXED)["image"] == 1


def test_uploads_use_their_own_identity(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, corpus: Path
) -> None:
    indexer = _indexer(settings, fakes, store)
    report = indexer.index_files([(corpus / "red.png", "upload://photo.png")])
    assert report.ok
    (payload,) = _live(store, "image")
    assert payload["source"] == "upload://photo.png"
    assert payload["source_prefixes"] == ["upload://"]
    assert indexer.delete_sources(["upload://photo.png"]) == 1


def test_invalid_tenant_is_bad_input(
    settings: Settings, fakes: Fakes, store: EmbeddedStore
) -> None:
    from rag.errors import BadInputError

    with pytest.raises(BadInputError, match="tenant"):
        _indexer(settings, fakes, store).index_paths([], tenant="../etc")


def test_modalities_enum_matches_collections(settings: Settings) -> None:
    from rag.store.collections import collection_name

    assert [collection_name("p", m) for m in Modality] == ["p_text", "p_image", "p_audio"]


def test_units_carry_their_language_and_the_encoder_versions(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, tmp_path: Path
) -> None:
    from rag.lexical import LEXICAL_VERSION
    from rag.search.request import SearchFilters, store_filter

    root = tmp_path / "langs"
    root.mkdir()
    (root / "de.txt").write_text("Die Stadt liegt am Fluss und hat einen alten Bahnhof.")
    (root / "en.txt").write_text("The city lies on the river and has an old railway station.")
    _indexer(settings, fakes, store).index_paths([root])
    by_name = {p["source_name"]: p for p in _live(store, "text")}
    assert by_name["de.txt"]["lang"] == "de"
    assert by_name["en.txt"]["lang"] == "en"
    assert by_name["de.txt"]["models"]["lexical"] == LEXICAL_VERSION
    assert by_name["de.txt"]["models"]["multilingual"] == "fake-multilingual-24"
    where = store_filter("default", SearchFilters(fields={"lang": "de"}))
    hits, _ = store.scroll("mmrag_text", where, limit=10)
    assert [h.payload["source_name"] for h in hits] == ["de.txt"]


def test_a_stop_while_images_are_read_ahead_stops_before_the_next_write(
    make_settings: SettingsFactory, fakes: Fakes, store: EmbeddedStore, tmp_path: Path
) -> None:
    """With an OCR pool, images are discovered and read ahead of the one being written; a
    stop raised by the listener when a read-ahead file is about to write (a job runner's
    stop or cancel check) leaves that file and the ones after it unwritten."""
    from indexers.report import NullListener

    class StopError(Exception):
        pass

    class StopAtSecondWrite(NullListener):
        def __init__(self) -> None:
            self.writing: list[str] = []

        def file_writing(self, path: str) -> None:
            self.writing.append(Path(path).name)
            if len(self.writing) == 2:
                raise StopError

    root = tmp_path / "images"
    root.mkdir()
    for n in range(4):
        (root / f"im{n}.png").write_bytes(png_bytes(color=(40 * n, 20, 20)))
    settings = make_settings(models={"ocr": {"workers": 2}}, index={"batch_units": 1})
    listener = StopAtSecondWrite()
    indexer = Indexer(settings, fakes.registry(settings), store, listener=listener)
    with pytest.raises(StopError):
        indexer.index_paths([root])
    assert listener.writing == ["im0.png", "im1.png"]
    assert [Path(p["source"]).name for p in _live(store, "image")] == ["im0.png"]
