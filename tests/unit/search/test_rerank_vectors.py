"""What reranking needs from an image is computed at index time (issue: no query decodes a
stored original): the flip-averaged CLIP vector is stored, used at query time without
opening the file, recomputed on re-index, and ignored once the CLIP model changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from indexers.pipeline import Indexer, encode_images_for_rerank
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder
from rag.settings import Settings
from rag.store.base import Filter, MatchValue
from rag.store.collections import Field
from rag.store.edge import EmbeddedStore
from rerankers.calibration import RERANK_CLIP
from rerankers.cross_modal import CrossModalReranker, RerankCandidate, RerankQuery
from tests.conftest import SettingsFactory


class HalfClip(FakeClip):
    """Colours the left half differently from the right, so a mirrored view differs."""

    def encode_images(self, images: Any) -> Any:
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        for row, image in enumerate(images):
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
            half = rgb.shape[1] // 2
            left, right = rgb[:, :half].mean(axis=(0, 1)), rgb[:, half:].mean(axis=(0, 1))
            out[row, :3] = left
            out[row, 3:6] = right * 0.5
            out[row, 6] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _registry(settings: Settings, clip: FakeClip) -> ModelRegistry:
    return ModelRegistry(
        settings,
        loaders={
            "text": lambda _: FakeTextEmbedder(),
            "clip": lambda _: clip,
            "ocr": lambda _: FakeOcr(""),
            "multilingual": lambda _: FakeMultilingual(),
        },
    )


def _split_image(path: Path) -> Path:
    image = Image.new("RGB", (64, 32), (220, 20, 20))
    image.paste((20, 20, 220), (32, 0, 64, 32))
    image.save(path)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "qdrant")
    yield s
    s.close()


def _image_points(store: EmbeddedStore) -> list[Any]:
    points, _ = store.scroll("mmrag_image", Filter(must=(MatchValue("state", "live"),)), limit=100)
    return points


def test_the_rerank_vector_is_the_flip_average_stored_at_index_time(
    make_settings: SettingsFactory, store: EmbeddedStore, tmp_path: Path
) -> None:
    settings = make_settings()
    clip = HalfClip()
    image = _split_image(tmp_path / "split.png")
    Indexer(settings, _registry(settings, clip), store).index_paths([image])
    (point,) = _image_points(store)
    stored = np.asarray(point.payload[Field.RERANK_CLIP], dtype=np.float32)
    with Image.open(image) as opened:
        views = clip.encode_images([opened, ImageOps.mirror(opened)])
    expected = (views[0] + views[1]) / np.linalg.norm(views[0] + views[1])
    assert np.allclose(stored, expected, atol=1e-6)
    assert not np.allclose(views[0], views[1])  # the mirrored view did count
    ((_, again),) = encode_images_for_rerank(clip, [Image.open(image)])
    assert np.allclose(again, expected, atol=1e-6)


def test_rerank_uses_the_stored_vector_and_never_opens_the_original(
    make_settings: SettingsFactory, store: EmbeddedStore, tmp_path: Path, monkeypatch: Any
) -> None:
    settings = make_settings()
    clip = HalfClip()
    models = _registry(settings, clip)
    image = _split_image(tmp_path / "split.png")
    Indexer(settings, models, store).index_paths([image])
    (point,) = _image_points(store)
    image.unlink()  # the original is gone: nothing may need it

    import rag.media.image

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an original was decoded at query time")

    monkeypatch.setattr(rag.media.image, "load_image", refuse)
    query_vector = clip.encode_texts(["red and blue"])[0]
    scores = CrossModalReranker(models).score(
        RerankQuery(None, None, query_vector, None),
        [RerankCandidate(point.id, "image", point.payload)],
    )
    stored = np.asarray(point.payload[Field.RERANK_CLIP], dtype=np.float32)
    assert scores[point.id][RERANK_CLIP] == pytest.approx(float(stored @ query_vector), abs=1e-5)


def test_after_a_clip_change_old_vectors_are_ignored_and_reindexing_renews_them(
    make_settings: SettingsFactory, store: EmbeddedStore, tmp_path: Path
) -> None:
    settings = make_settings()
    image = _split_image(tmp_path / "split.png")
    old_clip, new_clip = HalfClip(), HalfClip()
    new_clip.version = "fake-clip-retrained"
    Indexer(settings, _registry(settings, old_clip), store).index_paths([image])
    (old,) = _image_points(store)

    new_models = _registry(settings, new_clip)
    query = RerankQuery(None, None, new_clip.encode_texts(["red"])[0], None)
    scores = CrossModalReranker(new_models).score(
        query, [RerankCandidate(old.id, "image", old.payload)]
    )
    assert RERANK_CLIP not in scores[old.id]  # another model's vector decides nothing

    Indexer(settings, new_models, store).index_paths([image])
    (renewed,) = _image_points(store)
    assert renewed.id != old.id
    assert renewed.payload[Field.MODELS]["clip"] == "fake-clip-retrained"
    scores = CrossModalReranker(new_models).score(
        query, [RerankCandidate(renewed.id, "image", renewed.payload)]
    )
    assert RERANK_CLIP in scores[renewed.id]
