"""The fuzz suite of bench/api_fuzz.py as a test: malformed requests over every route (from
the OpenAPI document) and hand-written hostile ones; no 5xx, no connection error."""

from __future__ import annotations

from bench.api_fuzz import run
from rag.models import ModelRegistry
from rag.models.fakes import (
    FakeClip,
    FakeLLM,
    FakeMultilingual,
    FakeOcr,
    FakeTextEmbedder,
    FakeTranscriber,
)
from tests.conftest import SettingsFactory
from tests.unit.live_app import serve_app


def test_fuzz_suite_finds_no_5xx(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        api={"warmup": [], "keys": {}},
        search={"rerank_depth": 0},
        bridge={"admin_key": "fuzz-admin"},
    )
    models = ModelRegistry(
        settings,
        loaders={
            "text": lambda _: FakeTextEmbedder(),
            "multilingual": lambda _: FakeMultilingual(),
            "clip": lambda _: FakeClip(),
            "ocr": lambda _: FakeOcr(""),
            "whisper": lambda _: FakeTranscriber(),
            "llm": lambda _: FakeLLM(lambda _: ""),
        },
    )
    for url, _ in serve_app(settings, models):
        outcome = run(url, admin_key="fuzz-admin")
        assert outcome.cases > 300
        assert outcome.server_errors == []
        assert outcome.connection_errors == []
        assert outcome.not_problem_json == []
