from __future__ import annotations

import threading
from typing import NoReturn

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.api import create_app
from rag.api.problems import PROBLEM_JSON
from rag.errors import (
    AuthError,
    BadInputError,
    MmragError,
    ModelUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaError,
    UpstreamError,
)
from rag.models import ModelRegistry
from rag.models.fakes import FakeTextEmbedder
from rag.settings import Settings
from tests.conftest import SettingsFactory


def _app_with_errors(settings: Settings) -> FastAPI:
    app = create_app(
        settings, models=ModelRegistry(settings, loaders={"text": lambda _: FakeTextEmbedder()})
    )
    errors: dict[str, MmragError] = {
        "bad": BadInputError("query is empty", field="query"),
        "media": UnsupportedMediaError("image/x-foo is not supported"),
        "big": PayloadTooLargeError("upload is 70 MB; the limit is 64 MB"),
        "missing": NotFoundError("no point 42"),
        "auth": AuthError("missing API key"),
        "model": ModelUnavailableError("whisper is loading", model="whisper"),
        "upstream": UpstreamError("SOAP server timed out"),
    }

    @app.get("/boom/{name}")
    def boom(name: str) -> None:
        raise errors[name]

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internal state")

    @app.get("/typed")
    def typed(k: int) -> dict[str, int]:
        return {"k": k}

    return app


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("bad", 400, "bad-input"),
        ("media", 415, "unsupported-media"),
        ("big", 413, "payload-too-large"),
        ("missing", 404, "not-found"),
        ("auth", 401, "unauthorized"),
        ("model", 503, "model-unavailable"),
        ("upstream", 502, "upstream"),
    ],
)
def test_domain_errors_become_problem_json(
    settings: Settings, name: str, status: int, code: str
) -> None:
    with TestClient(_app_with_errors(settings)) as client:
        response = client.get(f"/boom/{name}", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:mmrag:problem:{code}"
    assert body["instance"] == f"/boom/{name}"
    assert body["trace_id"] == "trace-1"
    assert body["detail"]


def test_extra_error_data_is_carried(settings: Settings) -> None:
    with TestClient(_app_with_errors(settings)) as client:
        body = client.get("/boom/bad").json()
    assert body["field"] == "query"


def test_validation_errors_name_the_field(settings: Settings) -> None:
    with TestClient(_app_with_errors(settings)) as client:
        response = client.get("/typed", params={"k": "seven"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "k" in response.json()["detail"]


def test_unhandled_errors_do_not_leak(settings: Settings) -> None:
    with TestClient(_app_with_errors(settings), raise_server_exceptions=False) as client:
        response = client.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "secret" not in response.text


def test_unknown_route_is_problem_json(settings: Settings) -> None:
    with TestClient(_app_with_errors(settings)) as client:
        response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_healthz_and_readiness_follow_warmup(make_settings: SettingsFactory) -> None:
    release = threading.Event()

    def slow_text(_: Settings) -> FakeTextEmbedder:
        release.wait(10)
        return FakeTextEmbedder()

    settings = make_settings(api={"warmup": ["text"]})
    app = create_app(settings, models=ModelRegistry(settings, loaders={"text": slow_text}))
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["models"]["text"]["state"] in ("loading", "not_loaded")
        release.set()
        app.state.mmrag.wait_warm(10)
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["ready"] is True
        assert body["models"]["text"]["state"] == "loaded"
        assert body["models"]["text"]["required"] is True
        assert body["models"]["whisper"]["state"] == "not_loaded"


def test_readiness_reports_a_failed_model(make_settings: SettingsFactory) -> None:
    def broken(_: Settings) -> NoReturn:
        raise OSError("no weights")

    settings = make_settings(api={"warmup": ["text"]})
    app = create_app(settings, models=ModelRegistry(settings, loaders={"text": broken}))
    with TestClient(app) as client:
        app.state.mmrag.wait_warm(10)
        response = client.get("/readyz")
    assert response.status_code == 503
    assert any("no weights" in reason for reason in response.json()["reasons"])


def test_metrics_count_requests_by_route_template(settings: Settings) -> None:
    with TestClient(_app_with_errors(settings)) as client:
        client.get("/healthz")
        client.get("/boom/missing")
        client.get("/boom/bad")
        text = client.get("/metrics").text
    assert 'mmrag_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/boom/{name}",status="404"' in text
    assert 'mmrag_model_loaded{kind="text"}' in text


def test_two_apps_in_one_process_do_not_share_metrics(make_settings: SettingsFactory) -> None:
    settings = make_settings(api={"warmup": []})
    for _ in range(2):
        with TestClient(create_app(settings)) as client:
            client.get("/healthz")
            text = client.get("/metrics").text
        assert 'route="/healthz",status="200"} 1.0' in text
