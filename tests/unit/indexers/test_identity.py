"""Point identity: two sources with the same bytes stay two sources (issue 14)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from indexers import identity
from indexers.pipeline import Indexer
from indexers.report import FileStatus
from rag.settings import Settings
from rag.store.base import Filter, MatchValue
from rag.store.edge import EmbeddedStore
from tests.media import png_bytes
from tests.unit.indexers.test_pipeline import Fakes


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "qdrant")
    yield s
    s.close()


@pytest.fixture
def twins(tmp_path: Path) -> Path:
    """The same photo at two paths, plus a different one."""
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    same = png_bytes(color=(220, 20, 20))
    (root / "red.png").write_bytes(same)
    (root / "sub" / "red-copy.png").write_bytes(same)
    (root / "sub" / "blue.png").write_bytes(png_bytes(color=(20, 20, 220)))
    return root


def _indexer(settings: Settings, fakes: Fakes, store: EmbeddedStore) -> Indexer:
    return Indexer(settings, fakes.registry(settings), store)


def _sources(store: EmbeddedStore, *, state: str | None = None) -> list[str]:
    where = Filter(must=(MatchValue("state", state),)) if state else None
    points, _ = store.scroll("mmrag_image", where, limit=100)
    return sorted(str(p.payload["source"]) for p in points)


def test_point_id_includes_the_source_identity() -> None:
    key = identity.versions_key({"clip": "c1", "text": "t1"})
    common: dict[str, str] = {"tenant": "t", "sha256": "ab" * 32, "unit": "whole", "versions": key}
    a = identity.point_id(source="/data/a.png", **common)
    b = identity.point_id(source="/data/sub/a.png", **common)
    assert a != b
    assert a == identity.point_id(source="/data/a.png", **common), "deterministic"
    assert identity.point_id(source="upload://a.png", **common) not in (a, b)
    assert uuid.UUID(a).version == 5
    # the key changes with any version and with the id scheme itself
    assert identity.versions_key({"clip": "c1", "text": "t2"}) != key
    assert identity.versions_key({"text": "t1", "clip": "c1"}) == key, "order-free"


def test_same_bytes_at_two_paths_are_two_sources(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, twins: Path
) -> None:
    red, copy = (twins / "red.png").as_posix(), (twins / "sub" / "red-copy.png").as_posix()
    first = _indexer(settings, fakes, store).index_paths([twins])
    assert first.counts(FileStatus.INDEXED)["image"] == 3
    assert _sources(store, state="live") == sorted([red, copy, (twins / "sub/blue.png").as_posix()])
    # re-indexing is a no-op and swaps nothing
    again = _indexer(settings, fakes, store).index_paths([twins])
    assert again.counts(FileStatus.UNCHANGED)["image"] == 3
    assert len(_sources(store, state="live")) == 3
    # deleting the folder removes exactly its two sources; the twin outside it stays
    assert _indexer(settings, fakes, store).delete_sources([str(twins / "sub")]) == 2
    assert _sources(store) == [red]
    # and the survivor is still complete: unchanged, not re-embedded
    calls = fakes.calls
    assert (
        _indexer(settings, fakes, store)
        .index_paths([twins / "red.png"])
        .counts(FileStatus.UNCHANGED)["image"]
        == 1
    )
    assert fakes.calls == calls


def test_same_bytes_uploaded_under_two_names(
    settings: Settings, fakes: Fakes, store: EmbeddedStore, twins: Path
) -> None:
    indexer = _indexer(settings, fakes, store)
    report = indexer.index_files(
        [(twins / "red.png", "upload://one.png"), (twins / "red.png", "upload://two.png")]
    )
    assert report.counts(FileStatus.INDEXED)["image"] == 2
    assert _sources(store, state="live") == ["upload://one.png", "upload://two.png"]
    assert indexer.delete_sources(["upload://one.png"]) == 1
    assert _sources(store) == ["upload://two.png"]


def _legacy_versions_key(versions: Mapping[str, str]) -> str:
    text = "|".join(f"{k}={v}" for k, v in sorted(versions.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _legacy_point_id(*, tenant: str, source: str, sha256: str, unit: str, versions: str) -> str:
    """Scheme 1, as it was: no source in the id."""
    del source
    return str(uuid.uuid5(identity.POINT_NAMESPACE, "\x1f".join((tenant, sha256, unit, versions))))


def test_reindex_replaces_points_of_the_old_id_scheme(
    settings: Settings,
    fakes: Fakes,
    store: EmbeddedStore,
    twins: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identity, "point_id", _legacy_point_id)
    monkeypatch.setattr(identity, "versions_key", _legacy_versions_key)
    _indexer(settings, fakes, store).index_paths([twins])
    assert store.count("mmrag_image") == 2, "the old scheme merged the twins into one point"
    old_ids = {p.id for p in store.scroll("mmrag_image", None, limit=100)[0]}
    monkeypatch.undo()

    report = _indexer(settings, fakes, store).index_paths([twins])
    assert report.counts(FileStatus.INDEXED)["image"] == 3
    points, _ = store.scroll("mmrag_image", None, limit=100)
    assert len(points) == 3, "one point per source, no old-id point left behind"
    assert not old_ids & {p.id for p in points}
    assert all(p.payload["state"] == "live" for p in points)
    for point in points:
        payload: dict[str, Any] = point.payload
        assert point.id == identity.point_id(
            tenant="default",
            source=payload["source"],
            sha256=payload["source_sha256"],
            unit=payload["unit"],
            versions=payload["models_key"],
        )
    # and from then on it is a no-op
    assert (
        _indexer(settings, fakes, store).index_paths([twins]).counts(FileStatus.UNCHANGED)["image"]
        == 3
    )


def test_a_rollback_never_deletes_what_another_run_made_live(
    settings: Settings,
    fakes: Fakes,
    store: EmbeddedStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two runs of one source (a redelivered batch): the second is interrupted after the
    first made the source live. Its rollback leaves the first run's points alone."""
    from indexers import units as units_module
    from tests.media import write_wav

    talk = write_wav(tmp_path / "talk.wav", [(1, True), (0.5, False)] * 4)
    settings = settings.model_copy(
        update={"index": settings.index.model_copy(update={"batch_units": 1})}
    )
    real = units_module.audio_units
    nested: list[int] = []

    def overlapping(*args: Any, **kwargs: Any) -> Iterator[Any]:
        if nested:  # the other run: plain
            yield from real(*args, **kwargs)
            return
        for i, unit in enumerate(real(*args, **kwargs)):
            if i == 2:  # two units of this run are written: the other run does it all
                nested.append(0)
                other = _indexer(settings, fakes, store).index_paths([talk])
                assert other.ok
                nested[0] = other.units()["audio"]
            if i == 3:
                raise KeyboardInterrupt  # then this run stops
            yield unit

    monkeypatch.setattr(units_module, "audio_units", overlapping)
    with pytest.raises(KeyboardInterrupt):
        _indexer(settings, fakes, store).index_paths([talk])
    points, _ = store.scroll("mmrag_audio", None, limit=100)
    assert nested[0] > 3
    assert len(points) == nested[0], "every unit of the finished run survived the other's rollback"
    assert {p.payload["state"] for p in points} == {"live"}
