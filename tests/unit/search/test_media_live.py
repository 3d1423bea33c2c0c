"""GET /v1/media/{id} serves live points only (issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from indexers.pipeline import Indexer
from rag.api import create_app
from rag.store.base import Filter, MatchValue
from tests.conftest import SettingsFactory
from tests.unit.search.test_search_pipeline import fake_registry, make_corpus


def test_media_serves_live_points_only(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings(api={"warmup": []})
    models = fake_registry(settings)
    with TestClient(create_app(settings, models=models)) as client:
        store = client.app.state.mmrag.store  # type: ignore[attr-defined]
        corpus = make_corpus(tmp_path / "corpus")
        assert Indexer(settings, models, store).index_paths([corpus / "pics"]).ok
        (point,), _ = store.scroll("mmrag_image", None, limit=10)
        url = f"/v1/media/{point.id}"
        assert client.get(url).status_code == 200

        # a source being (re)indexed, or left by a killed runner, is pending: not served
        store.set_payload("mmrag_image", [point.id], {"state": "pending"})
        pending = client.get(url)
        assert pending.status_code == 404
        assert pending.headers["content-type"] == "application/problem+json"
        assert client.get(url, params={"thumb": 64}).status_code == 404

        store.set_payload("mmrag_image", [point.id], {"state": "live"})
        assert client.get(url).status_code == 200
        live = Filter(must=(MatchValue("state", "live"),))
        assert store.count("mmrag_image", live) == 1


def test_thumbnails_are_made_at_index_time_and_never_from_the_original(
    make_settings: SettingsFactory, tmp_path: Path, monkeypatch: Any
) -> None:
    import io

    from PIL import Image

    import rag.media.image

    settings = make_settings(api={"warmup": []})
    models = fake_registry(settings)
    with TestClient(create_app(settings, models=models)) as client:
        store = client.app.state.mmrag.store  # type: ignore[attr-defined]
        corpus = make_corpus(tmp_path / "corpus")
        assert Indexer(settings, models, store).index_paths([corpus / "pics"]).ok
        (point,), _ = store.scroll("mmrag_image", None, limit=10)
        name = point.payload["thumbnail"]
        assert (settings.data_dir / "thumbnails" / name[:2] / name).is_file()

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a request decoded the original")

        monkeypatch.setattr(rag.media.image, "load_image", refuse)
        Path(point.payload["path"]).unlink()  # the original is not needed for a thumbnail
        response = client.get(f"/v1/media/{point.id}", params={"thumb": 16})
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(response.content)) as thumb:
            assert max(thumb.size) <= 16

        # a point indexed before thumbnails were stored: a clear 404, not a decode
        store.set_payload("mmrag_image", [point.id], {"thumbnail": "../../etc/passwd"})
        missing = client.get(f"/v1/media/{point.id}", params={"thumb": 64})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
