"""The search pipeline with fake models, on both store backends."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexers.pipeline import Indexer
from rag.api import create_app
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder, FakeTranscriber
from rag.search.pipeline import Searcher
from rag.search.request import SearchFilters, SearchRequest
from rag.settings import Settings
from rag.store.base import ScoredPoint, StoredPoint, VectorQuery, VectorStore
from rag.store.collections import collection_name
from rag.store.edge import EmbeddedStore
from rag.store.server import ServerStore
from rag.types import Modality
from rerankers.calibration import Calibration
from tests.conftest import SettingsFactory
from tests.media import png_bytes, write_wav

TOPICS = {
    "printing.txt": "Printing with movable metal type began in the fifteenth century.",
    "horses.md": "# Horses\n\nHorses gallop along the beach at low tide.",
    "trains.txt": "The red train arrives at the station every hour.",
    "clocks.txt": "The clock tower strikes noon over the market square.",
}


def fake_registry(settings: Settings) -> ModelRegistry:
    text, clip, ocr, whisper = FakeTextEmbedder(), FakeClip(), FakeOcr("EXIT"), FakeTranscriber()
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


def make_corpus(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    for name, text in TOPICS.items():
        (root / "docs" / name).write_text(text)
    (root / "pics").mkdir()
    (root / "pics" / "red.png").write_bytes(png_bytes(color=(230, 10, 10)))
    (root / "talks").mkdir()
    write_wav(root / "talks" / "talk.wav", [(2, True), (1, False), (2, True)])
    return root


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
def searcher(settings: Settings, store: VectorStore, tmp_path: Path) -> Searcher:
    models = fake_registry(settings)
    corpus = make_corpus(tmp_path / "corpus")
    report = Indexer(settings, models, store).index_paths([corpus])
    assert report.ok, report.to_json()
    return Searcher(settings, models, store, Calibration())


def test_text_query_finds_the_matching_chunk_first(searcher: Searcher) -> None:
    response = searcher.search(SearchRequest(text="horses gallop on the beach"), tenant="default")
    assert response.results[0].source_name == "horses.md"
    assert response.results[0].title == "Horses"
    assert response.results[0].modality == "text"
    assert response.results[0].media_url == f"/v1/media/{response.results[0].id}"
    scores = [h.score for h in response.results]
    assert scores == sorted(scores, reverse=True)
    assert set(response.timings_ms) >= {"embed", "retrieve", "fuse", "rerank", "total"}


def test_results_span_modalities(searcher: Searcher) -> None:
    response = searcher.search(SearchRequest(text="speech at second", k=20), tenant="default")
    modalities = {h.modality for h in response.results}
    assert modalities == {"text", "image", "audio"}
    top = response.results[0]
    assert top.modality == "audio"
    assert top.locator.start_s is not None


def test_modality_prefix_field_and_time_filters(searcher: Searcher, tmp_path: Path) -> None:
    only_audio = SearchRequest(
        text="speech", k=20, filters=SearchFilters(modalities=(Modality.AUDIO,))
    )
    assert {h.modality for h in searcher.search(only_audio, tenant="default").results} == {"audio"}
    prefix = SearchFilters(source_prefix=str((tmp_path / "corpus" / "docs").resolve()))
    hits = searcher.search(
        SearchRequest(text="the", k=20, filters=prefix), tenant="default"
    ).results
    assert hits
    assert {h.source_name for h in hits} <= set(TOPICS)
    exact = SearchFilters(
        source_prefix=str((tmp_path / "corpus" / "docs" / "trains.txt").resolve())
    )
    hits = searcher.search(SearchRequest(text="the", k=20, filters=exact), tenant="default").results
    assert {h.source_name for h in hits} == {"trains.txt"}
    by_field = SearchFilters(fields={"mime": "image/png"})
    hits = searcher.search(
        SearchRequest(text="red", k=20, filters=by_field), tenant="default"
    ).results
    assert [h.source_name for h in hits] == ["red.png"]
    late = SearchFilters(start_s=2.5, end_s=10)
    hits = searcher.search(
        SearchRequest(text="speech", k=20, filters=late), tenant="default"
    ).results
    assert hits
    assert all(h.modality == "audio" and (h.locator.end_s or 0) >= 2.5 for h in hits)


def test_explain_shows_every_stage(searcher: Searcher) -> None:
    response = searcher.search(
        SearchRequest(text="red train station", explain=True), tenant="default"
    )
    explain = response.results[0].explain
    assert explain is not None
    assert set(explain) == {
        "retrieval",
        "calibrated",
        "weights",
        "reliability",
        "fused",
        "rerank",
        "rerank_trust",
        "final",
    }
    assert "text" in explain["retrieval"]
    assert "text_multi" in explain["retrieval"]
    assert "rerank_text" in explain["rerank"]
    assert explain["final"] == response.results[0].score


def test_rerank_depth_zero_skips_reranking(searcher: Searcher) -> None:
    response = searcher.search(
        SearchRequest(text="clock tower", rerank_depth=0, explain=True), tenant="default"
    )
    assert response.results[0].explain is not None
    assert response.results[0].explain["rerank"] == {}
    assert response.results[0].explain["final"] == response.results[0].explain["fused"]


def test_image_query_finds_the_same_image(searcher: Searcher) -> None:
    response = searcher.search(
        SearchRequest(image=png_bytes(color=(230, 10, 10))), tenant="default"
    )
    assert response.results[0].source_name == "red.png"
    assert response.query.ocr_text == "EXIT"


def test_audio_query_is_transcribed(searcher: Searcher, tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "q.wav", [(1, True)]).read_bytes()
    response = searcher.search(SearchRequest(audio=clip), tenant="default")
    assert response.query.transcript == "speech at second 0"
    assert response.results[0].modality == "audio"


def test_tenant_isolation_randomised(
    make_settings: SettingsFactory, store: VectorStore, tmp_path: Path
) -> None:
    """Many random queries and filters: a tenant never sees another tenant's point."""
    settings = make_settings()
    models = fake_registry(settings)
    indexer = Indexer(settings, models, store)
    rng = random.Random(11)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    tenants = ["acme", "globex", "initech"]
    for tenant in tenants:
        folder = tmp_path / tenant
        folder.mkdir()
        for i in range(6):
            (folder / f"{tenant}-{i}.txt").write_text(" ".join(rng.choices(words, k=12)))
        (folder / "shared-name.txt").write_text("alpha beta gamma")  # same bytes in every tenant
        assert indexer.index_paths([folder], tenant=tenant).ok
    searcher = Searcher(settings, models, store, Calibration())
    for _ in range(60):
        tenant = rng.choice(tenants)
        filters = SearchFilters(
            modalities=tuple(rng.sample(list(Modality), rng.randint(1, 3))),
            fields=rng.choice([{}, {"tenant_hint": "x"}, {"mime": "text/plain"}]),
        )
        request = SearchRequest(
            text=" ".join(rng.choices(words, k=3)),
            k=rng.randint(1, 30),
            rerank_depth=rng.choice([0, 10]),
            filters=filters,
        )
        for hit in searcher.search(request, tenant=tenant).results:
            assert Path(hit.source).parent.name == tenant, (tenant, hit.source)


def _client(make_settings: SettingsFactory, tmp_path: Path, **overrides: object) -> TestClient:
    settings = make_settings(api={"warmup": []}, **overrides)
    app = create_app(settings, models=fake_registry(settings))
    return TestClient(app)


def test_http_bad_input_is_problem_json(make_settings: SettingsFactory, tmp_path: Path) -> None:
    with _client(make_settings, tmp_path, index={"max_upload_mb": 1}) as client:
        cases = [
            (client.post("/v1/search", json={}), 400, "empty query"),
            (client.post("/v1/search", json={"text": "x", "k": 0}), 400, "k must be"),
            (client.post("/v1/search", json={"text": "x", "k": 5000}), 400, "k must be"),
            (
                client.post("/v1/search", json={"text": "x", "filters": {"tenant": "b"}}),
                400,
                "tenant",
            ),
            (
                client.post("/v1/search", json={"text": "x", "filters": {"a": {"$ne": 1}}}),
                400,
                "filters",
            ),
            (client.post("/v1/search", json={"text": "x", "bogus": 1}), 400, "bogus"),
            (
                client.post(
                    "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
                ),
                400,
                "invalid search body",
            ),
            (
                client.post("/v1/search", content=b"text", headers={"content-type": "text/plain"}),
                415,
                "application/json",
            ),
            (
                client.post(
                    "/v1/search", files={"image": ("a.png", b"x" * (2 << 20), "image/png")}
                ),
                413,
                "larger than 1 MB",
            ),
            (
                client.post("/v1/search", files={"image": ("a.txt", b"hello", "text/plain")}),
                415,
                "image part",
            ),
            (
                client.post("/v1/search", files={"image": ("a.png", b"not a png", "image/png")}),
                400,
                "query image",
            ),
            (
                client.post("/v1/search", files={"audio": ("a.wav", b"RIFFjunk", "audio/wav")}),
                400,
                "query audio",
            ),
            (client.post("/v1/search", data={"text": "x", "filters": "{oops"}), 400, "filters"),
            (
                client.post("/v1/search", data={"text": "x", "modalities": "text,smell"}),
                400,
                "modalities",
            ),
        ]
        for response, status, needle in cases:
            assert response.status_code == status, (needle, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert needle in response.json()["detail"], (needle, response.json())


def test_http_search_json_and_multipart(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings(api={"warmup": []})
    models = fake_registry(settings)
    with TestClient(create_app(settings, models=models)) as client:
        corpus = make_corpus(tmp_path / "corpus")
        state = client.app.state.mmrag  # type: ignore[attr-defined]
        assert Indexer(settings, models, state.store).index_paths([corpus]).ok
        body = client.post("/v1/search", json={"text": "red train", "k": 3}).json()
        assert body["results"][0]["source_name"] == "trains.txt"
        assert len(body["results"]) == 3
        multi = client.post(
            "/v1/search",
            data={"text": "red", "modalities": "image", "explain": "true"},
            files={"image": ("q.png", png_bytes(color=(230, 10, 10)), "image/png")},
        ).json()
        assert [r["modality"] for r in multi["results"]] == ["image"]
        assert multi["results"][0]["explain"]["final"] == multi["results"][0]["score"]
        media = client.get(multi["results"][0]["media_url"])
        assert media.status_code == 200
        assert media.headers["content-type"] == "image/png"
        assert media.headers["x-content-type-options"] == "nosniff"
        thumb = client.get(multi["results"][0]["media_url"], params={"thumb": 64})
        assert thumb.headers["content-type"] == "image/jpeg"
        audio = client.post("/v1/search", json={"text": "speech", "modalities": ["audio"]}).json()
        url = audio["results"][0]["media_url"]
        ranged = client.get(url, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206
        assert len(ranged.content) == 100
        assert client.get("/v1/media/not-a-uuid").status_code == 404
        openapi = client.get("/openapi.json").json()
        content = openapi["paths"]["/v1/search"]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}


def test_http_tenants_cannot_reach_each_other(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    settings = make_settings(
        api={"warmup": [], "keys": {"acme": SecretStr("ka"), "globex": SecretStr("kg")}}
    )
    models = fake_registry(settings)
    with TestClient(create_app(settings, models=models)) as client:
        store = client.app.state.mmrag.store  # type: ignore[attr-defined]
        corpus = make_corpus(tmp_path / "corpus")
        assert Indexer(settings, models, store).index_paths([corpus / "docs"], tenant="acme").ok
        assert client.post("/v1/search", json={"text": "train"}).status_code == 401
        mine = client.post("/v1/search", json={"text": "train"}, headers={"X-API-Key": "ka"}).json()
        assert mine["results"]
        theirs = client.post(
            "/v1/search", json={"text": "train"}, headers={"X-API-Key": "kg"}
        ).json()
        assert theirs["results"] == []
        url = mine["results"][0]["media_url"]
        assert client.get(url, headers={"X-API-Key": "ka"}).status_code == 200
        assert client.get(url, headers={"X-API-Key": "kg"}).status_code == 404


def test_rerank_text_scores_equal_a_fresh_encoding_of_the_context(searcher: Searcher) -> None:
    """Reused first-stage scores are the same numbers the reranker would compute."""
    from rag.store.collections import collection_name
    from rerankers.cross_modal import RerankCandidate, context_text

    response = searcher.search(
        SearchRequest(text="horses gallop on the beach", k=10, explain=True), tenant="default"
    )
    text_model = searcher.models.text()
    query_vector = text_model.encode(["horses gallop on the beach"])[0]
    checked = 0
    for hit in response.results:
        assert hit.explain is not None
        got = hit.explain["rerank"].get("rerank_text", {}).get("raw")
        if got is None:
            continue
        name = collection_name(searcher.settings.store.collection_prefix, Modality(hit.modality))
        point = searcher.store.retrieve(name, [hit.id])[0]
        context = context_text(RerankCandidate(hit.id, hit.modality, point.payload))
        assert got == pytest.approx(float(text_model.encode([context])[0] @ query_vector), abs=1e-5)
        checked += 1
    assert checked >= 3


def test_queries_in_a_language_the_text_model_lacks_keep_their_fused_order(
    searcher: Searcher,
) -> None:
    response = searcher.search(
        SearchRequest(text="Der rote Zug kommt jede Stunde am Bahnhof an", explain=True),
        tenant="default",
    )
    assert response.results
    for hit in response.results:
        assert hit.explain is not None
        assert hit.explain["rerank_trust"].get("rerank_text", 0.0) == 0.0


def test_passages_in_a_language_the_text_model_lacks_keep_their_fused_order(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    """A query the text model covers (or cannot place: a short Latin-script query is often
    undetermined) over a passage in a language the model lacks: the model's second look at
    that passage is noise, so it moves that passage not at all; English passages it does."""
    models = fake_registry(settings)
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "docs" / "zug.txt").write_text(
        "Der rote Zug kommt jede Stunde am Bahnhof an, und die Uhr am Markt schlägt Mittag."
    )
    Indexer(settings, models, store).index_paths([corpus])
    searcher = Searcher(settings, models, store, Calibration())
    response = searcher.search(
        SearchRequest(text="the red train arrives at the station", k=10, explain=True),
        tenant="default",
    )
    assert response.query.lang in ("en", "und")
    langs = {hit.lang: hit for hit in response.results if hit.modality == "text"}
    german, english = langs["de"], langs["en"]
    assert german.explain is not None
    assert english.explain is not None
    assert "rerank_text" in german.explain["rerank"]
    assert german.explain["rerank_trust"]["rerank_text"] == 0.0
    assert "rerank_text" in english.explain["rerank_trust"]


def test_a_dense_model_votes_only_on_candidates_in_its_languages(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    """Fusion reads each candidate's language, as rerank does: the English MiniLM does not
    vote on a German passage (the multilingual model does); on an English passage both
    cover, and only the more specific model, MiniLM, votes (``FusionParams.specialist``).
    A candidate's fused score is the mean over the signals that voted on it."""
    from rerankers.fusion import FusionParams, sigmoid

    models = fake_registry(settings)
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "docs" / "zug.txt").write_text(
        "Der rote Zug kommt jede Stunde am Bahnhof an, und die Uhr am Markt schlägt Mittag."
    )
    Indexer(settings, models, store).index_paths([corpus])
    request = SearchRequest(
        text="the red train arrives at the station", k=10, rerank_depth=0, explain=True
    )

    def by_lang(params: FusionParams) -> dict[str, dict[str, Any]]:
        s = Searcher(settings, models, store, Calibration(), fusion_params=params)
        hits = s.search(request, tenant="default").results
        return {str(h.lang): h.explain for h in hits if h.modality == "text" and h.explain}

    default = by_lang(FusionParams())
    german, english = default["de"], default["en"]
    assert german["weights"]["text"] == 0.0
    assert german["weights"]["text_multi"] == 1.0
    assert english["weights"]["text"] == 1.0
    assert english["weights"]["text_multi"] == 0.0
    for explain in (german, english):
        voted = {s for s, w in explain["weights"].items() if w > 0}
        assert set(explain["calibrated"]) == voted
        logits = [math.log(p / (1 - p)) for p in explain["calibrated"].values()]
        assert explain["fused"] == pytest.approx(sigmoid(sum(logits) / len(logits)), abs=1e-4)

    every = by_lang(FusionParams(specialist=False))
    assert every["en"]["weights"]["text"] == every["en"]["weights"]["text_multi"] == 1.0
    assert every["de"]["weights"]["text"] == 0.0
    earlier = by_lang(FusionParams(candidate_languages=False, specialist=False))
    assert earlier["de"]["weights"]["text"] == 1.0  # the query's language alone decided


def test_rereading_the_same_text_moves_nothing(searcher: Searcher) -> None:
    """A rerank score that is the first stage's own score of the same text adds no evidence:
    the candidate keeps its fused score (rerank_delta)."""
    from rerankers.fusion import FusionParams

    searcher.fusion_params = FusionParams(rerank_delta=True)
    response = searcher.search(
        SearchRequest(text="the red train at the station", k=10, explain=True), tenant="default"
    )
    same = 0
    for hit in response.results:
        assert hit.explain is not None
        rerank = hit.explain["rerank"]
        if set(rerank) != {"rerank_text"}:
            continue
        if rerank["rerank_text"]["raw"] != pytest.approx(hit.explain["retrieval"]["text"]):
            continue
        assert hit.explain["final"] == pytest.approx(hit.explain["fused"], abs=1e-6)
        same += 1
    assert same >= 1


def test_an_uncovered_model_is_weighted_by_the_uncovered_factor(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    from rerankers.fusion import FusionParams

    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([make_corpus(tmp_path / "corpus")])
    german = SearchRequest(text="Der rote Zug kommt jede Stunde am Bahnhof an", explain=True)

    def weights(uncovered: float) -> dict[str, float]:
        s = Searcher(
            settings, models, store, Calibration(), fusion_params=FusionParams(uncovered=uncovered)
        )
        hit = s.search(german, tenant="default").results[0]
        assert hit.explain is not None
        return dict(hit.explain["weights"])

    full, gated = weights(1.0), weights(0.0)
    assert full["text"] > 0
    assert gated["text"] == 0.0  # MiniLM's languages are ("en",)
    assert gated.get("bm25") == full.get("bm25")


def test_only_uncovered_models_still_rank(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    """With every signal that found something outside its languages, their order stands."""
    from rag.search.pipeline import SearchOptions
    from rerankers.calibration import TEXT_DENSE
    from rerankers.fusion import FusionParams

    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([make_corpus(tmp_path / "corpus")])
    s = Searcher(settings, models, store, Calibration(), fusion_params=FusionParams(uncovered=0.0))
    response = s.search(
        SearchRequest(text="Der rote Zug kommt jede Stunde am Bahnhof an", explain=True),
        tenant="default",
        options=SearchOptions(signals=(TEXT_DENSE,)),
    )
    assert response.results
    assert all(h.explain and h.explain["weights"]["text"] > 0 for h in response.results)
    assert len({h.score for h in response.results}) > 1


def test_lexical_matches_that_tie_are_not_floored(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    """Six clips transcribed with the same word tie on the lexical signal; judged over the
    candidates every signal scored (the rest share no term: 0), the lexical signal stands out
    and keeps a real weight, instead of looking flat over its own six equal matches (with
    shape weights; the default weights every signal that found something equally)."""
    import json

    from rerankers.fusion import FusionParams

    models = fake_registry(settings)
    records = [{"_id": f"m{i}", "text": "two"} for i in range(6)]
    records += [{"_id": f"o{i}", "text": f"another note number {i} about lunch"} for i in range(24)]
    corpus = tmp_path / "notes.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert Indexer(settings, models, store).index_paths([corpus]).ok
    shaped = Searcher(
        settings, models, store, Calibration(), fusion_params=FusionParams(shape=True)
    )
    response = shaped.search(
        SearchRequest(text="two", explain=True, rerank_depth=0), tenant="default"
    )
    top = response.results[:6]
    assert all(h.snippet == "two" for h in top)
    assert top[0].explain is not None
    assert top[0].explain["weights"]["bm25"] > 0.5
    assert response.query.lang is not None


def test_every_signal_that_found_something_votes_equally_unless_shape_weights(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    """The default fusion weight is 1 for every covered signal whatever the shape of its
    scores; ``FusionParams(shape=True)`` weights each by the max-z reliability of its scores
    over the query's candidates (every text candidate here: the corpus is small). Either
    way the reliability is read, and it is what rerank trust is relative to."""
    from rerankers.fusion import FusionParams, reliability

    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([make_corpus(tmp_path / "corpus")])
    request = SearchRequest(text="the red train at the station", k=50, rerank_depth=0, explain=True)

    def text_hits(params: FusionParams) -> list[dict[str, Any]]:
        s = Searcher(settings, models, store, Calibration(), fusion_params=params)
        hits = s.search(request, tenant="default").results
        return [h.explain for h in hits if h.modality == "text" and h.explain]

    # every covering dense model voting (the default lets only the most specific one vote
    # on an English passage: test_a_dense_model_votes_only_on_candidates_in_its_languages)
    equal = text_hits(FusionParams(specialist=False))
    assert equal
    signals = set(equal[0]["weights"])
    assert {"text", "text_multi", "bm25"} <= signals
    assert equal[0]["weights"] == dict.fromkeys(signals, 1.0)
    shaped = text_hits(FusionParams(shape=True, specialist=False))
    weights = shaped[0]["weights"]
    assert set(weights) == signals
    for signal, weight in weights.items():
        scores = [float(e["retrieval"].get(signal, 0.0)) for e in shaped]
        expected = reliability(scores, FusionParams(shape=True), sparse=signal == "bm25")
        assert weight == pytest.approx(expected, abs=1e-3)
    assert any(w < 1.0 for w in weights.values())
    assert equal[0]["reliability"] == shaped[0]["reliability"] == weights


def test_rerank_trust_is_relative_to_reliability_not_to_the_equal_fusion_weights(
    searcher: Searcher,
) -> None:
    """Fusion votes equally; how far MiniLM's second look may move a candidate is still its
    reliability for this query relative to the most reliable signal's."""
    from rerankers.trust import relative_trust

    hits = searcher.search(
        SearchRequest(text="the clock tower over the market", explain=True), tenant="default"
    ).results
    checked = 0
    for hit in hits:
        assert hit.explain is not None
        trust = hit.explain["rerank_trust"]
        if "rerank_text" not in trust:
            continue
        reliability = hit.explain["reliability"]
        assert trust["rerank_text"] == pytest.approx(
            relative_trust(reliability["text"], reliability)
        )
        checked += 1
    assert checked


class _CountingStore:
    """Passes calls through; counts payloads the searcher reads."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner, self.payloads, self.read_ids = inner, 0, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def search_batch(self, name: str, queries: list[VectorQuery]) -> list[list[ScoredPoint]]:
        # a search reads no payload but, for fusion, a candidate's language
        assert all(q.with_payload in (False, ("lang",)) for q in queries)
        out = self.inner.search_batch(name, queries)
        self.payloads += sum(1 for hits in out for h in hits if set(h.payload) - {"lang"})
        return out

    def retrieve(self, name: str, ids: list[str], **kwargs: bool) -> list[StoredPoint]:
        self.read_ids += len(ids)
        return self.inner.retrieve(name, ids, **kwargs)


@pytest.mark.parametrize("depth", [0, 3, 30])
def test_payloads_are_read_only_for_what_a_response_can_show_or_rerank(
    searcher: Searcher, depth: int
) -> None:
    counting = _CountingStore(searcher.store)
    wrapped = Searcher(searcher.settings, searcher.models, counting, Calibration())  # type: ignore[arg-type]
    request = SearchRequest(text="horses gallop on the beach", k=2, rerank_depth=depth)
    response = wrapped.search(request, tenant="default")
    assert counting.payloads == 0  # no search returns payloads (a candidate's lang only)
    assert counting.read_ids <= max(depth, 2)
    assert response.results[0].source_name == "horses.md"
    for hit in response.results:  # each hit shows its own stored payload
        collection = collection_name(
            searcher.settings.store.collection_prefix, Modality(hit.modality)
        )
        (stored,) = searcher.store.retrieve(collection, [hit.id])
        assert hit.snippet == str(stored.payload.get("text") or "").strip()[: len(hit.snippet)]
        assert hit.source_name == stored.payload["source_name"]


def test_a_deleted_candidate_is_replaced_by_a_read_one(searcher: Searcher) -> None:
    # With the first hit gone, the next candidate moves into the page: it is shown with its
    # own payload, never with an empty one.
    request = SearchRequest(text="horses gallop", k=3, rerank_depth=0)
    before = searcher.search(request, tenant="default").results
    first = before[0].id

    class Forgetful(_CountingStore):
        def retrieve(self, name: str, ids: list[str], **kwargs: bool) -> list[StoredPoint]:
            return [p for p in self.inner.retrieve(name, ids, **kwargs) if p.id != first]

    wrapped = Searcher(searcher.settings, searcher.models, Forgetful(searcher.store), Calibration())  # type: ignore[arg-type]
    after = wrapped.search(request, tenant="default").results
    assert [h.id for h in after] == [h.id for h in before[1:]] + [after[-1].id]
    assert len(after) == 3
    assert all(h.source_name and h.source for h in after)


class _ReversingStore:
    """The same store, returning every query's hits in reverse order (as a store indexed in
    another order returns equal scores)."""

    def __init__(self, inner: VectorStore) -> None:
        self._inner = inner

    def search_batch(self, name: str, queries: list[VectorQuery]) -> list[list[ScoredPoint]]:
        return [list(reversed(hits)) for hits in self._inner.search_batch(name, queries)]

    def __getattr__(self, attr: str) -> object:
        return getattr(self._inner, attr)


def test_equal_scores_are_ordered_by_id_whatever_order_the_store_returns(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    from rag.search.pipeline import SearchOptions
    from rerankers.calibration import LEXICAL

    docs = tmp_path / "tied"
    docs.mkdir()
    for i, words in enumerate(("red train station", "train station red", "station red train")):
        (docs / f"t{i}.txt").write_text(f"The {words}.")
    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([docs])
    request = SearchRequest(text="train station", k=10, rerank_depth=0)
    lexical = SearchOptions(signals=(LEXICAL,))

    def order(s: VectorStore) -> list[tuple[float, str]]:
        searcher = Searcher(settings, models, s, Calibration())
        response = searcher.search(request, tenant="default", options=lexical)
        return [(hit.score, hit.id) for hit in response.results]

    plain, reversed_ = order(store), order(_ReversingStore(store))  # type: ignore[arg-type]
    assert len(plain) == 3
    assert len({score for score, _ in plain}) == 1  # a three-way tie
    assert plain == reversed_
    assert [hit_id for _, hit_id in plain] == sorted(hit_id for _, hit_id in plain)


class _RecordingStore:
    """The same store, remembering how many candidates each query asked for."""

    def __init__(self, inner: VectorStore) -> None:
        self._inner = inner
        self.limits: list[int] = []

    def search_batch(self, name: str, queries: list[VectorQuery]) -> list[list[ScoredPoint]]:
        self.limits += [q.limit for q in queries]
        return self._inner.search_batch(name, queries)

    def __getattr__(self, attr: str) -> object:
        return getattr(self._inner, attr)


def _many_files(root: Path, n: int = 60) -> Path:
    rng = random.Random(7)
    words = [
        "red",
        "train",
        "station",
        "clock",
        "tower",
        "market",
        "horse",
        "beach",
        "tide",
        "metal",
        "type",
        "print",
    ]
    root.mkdir()
    for i in range(n):
        (root / f"f{i:02}.txt").write_text(" ".join(rng.choice(words) for _ in range(12)) + ".")
    return root


def test_a_querys_order_does_not_depend_on_k_and_pages_are_slices(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([_many_files(tmp_path / "many")])
    searcher = Searcher(settings, models, store, Calibration())

    def ids(k: int, offset: int = 0) -> list[str]:
        request = SearchRequest(text="train station clock", k=k, offset=offset)
        return [h.id for h in searcher.search(request, tenant="default").results]

    ranking = ids(100)
    assert len(ranking) >= 40
    assert ids(10) == ranking[:10]
    assert ids(10, offset=10) == ranking[10:20]
    assert ids(5, offset=30) == ranking[30:35]


def test_every_signal_returns_the_candidate_depth_whatever_k(
    settings: Settings, store: VectorStore, tmp_path: Path
) -> None:
    models = fake_registry(settings)
    Indexer(settings, models, store).index_paths([make_corpus(tmp_path / "corpus")])
    recording = _RecordingStore(store)
    searcher = Searcher(settings, models, recording, Calibration())  # type: ignore[arg-type]
    searcher.search(SearchRequest(text="train", k=3, rerank_depth=0), tenant="default")
    depth = settings.search.candidate_depth
    assert recording.limits
    # the first call of each collection asks every signal for the fixed depth
    assert depth in recording.limits
    assert max(recording.limits) >= depth
