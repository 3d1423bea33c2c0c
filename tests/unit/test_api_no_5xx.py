"""No 5xx from input, and a usable connection after every error.

Over real HTTP on loopback (uvicorn in a thread): a bad request and then a good one on the
same keep-alive connection."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Route

from rag.api import create_app
from rag.api.jsonbody import decode_json, json_depth
from rag.api.media import MediaFileResponse
from rag.api.problems import PROBLEM_JSON
from rag.errors import BadInputError, SoapFaultError
from rag.models import ModelRegistry
from rag.settings import Settings
from tests.conftest import SettingsFactory
from tests.unit.live_app import local_port, serve_app

ADMIN = "admin-secret"
DEEP = b"[" * 5000 + b"]" * 5000


@pytest.fixture
def live(make_settings: SettingsFactory) -> Iterator[tuple[str, FastAPI]]:
    settings = make_settings(api={"warmup": []}, bridge={"admin_key": ADMIN})
    yield from serve_app(settings)


JSON = {"content-type": "application/json"}
HOSTILE: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", "/v1/search", JSON, b'{"text": "\\ud800"}'),
    ("POST", "/v1/search", JSON, b'{"text": "a", "filters": {"x": "\\udfff"}}'),
    ("POST", "/v1/search", JSON, DEEP),
    ("POST", "/v1/search", JSON, b'{"text": ' + DEEP + b"}"),
    ("POST", "/v1/search", JSON, b'{"text": "\xff\xfe"}'),
    ("POST", "/v1/search", JSON, b"{"),
    ("POST", "/v1/bridge/none/op", JSON, DEEP),
    ("PUT", "/v1/admin/bridge/services/x", {**JSON, "X-Admin-Key": ADMIN}, DEEP),
    ("PUT", "/v1/admin/bridge/services/x", {**JSON, "X-Admin-Key": ADMIN}, b'"\\ud800"'),
    ("POST", "/v1/jobs", JSON, b'{"sources": ["/tmp/a\\u0000b"]}'),
    ("POST", "/v1/jobs", JSON, b'{"sources": ["/tmp/\\ud800"]}'),
    ("POST", "/v1/jobs", JSON, b'{"manifest": "/tmp/m\\u0000"}'),
    ("POST", "/v1/jobs", JSON, DEEP),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), HOSTILE)
def test_hostile_input_is_4xx_problem_and_connection_stays(
    live: tuple[str, FastAPI], method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    url, _ = live
    with httpx.Client(base_url=url, timeout=30) as client:
        bad = client.request(method, path, headers=headers, content=body)
        assert 400 <= bad.status_code < 500, bad.text
        assert bad.headers["content-type"] == PROBLEM_JSON
        assert bad.json()["status"] == bad.status_code
        assert bad.headers.get("connection") != "close"
        good = client.get("/healthz")
        assert good.status_code == 200
        assert local_port(good) == local_port(bad), "the connection was not reused"


def test_bad_range_header_is_problem_json(tmp_path: Path) -> None:
    media = tmp_path / "clip.bin"
    media.write_bytes(b"0123456789")

    def endpoint(_: Any) -> MediaFileResponse:
        return MediaFileResponse(media)

    app = Starlette(routes=[Route("/m", endpoint)])
    with TestClient(app) as client:
        for header, status in (("bytes=zz", 400), ("items=0-1", 400), ("bytes=50-60", 416)):
            response = client.get("/m", headers={"Range": header})
            assert response.status_code == status, header
            assert response.headers["content-type"] == PROBLEM_JSON
        assert client.get("/m", headers={"Range": "bytes=2-4"}).content == b"234"


def test_upstream_fault_text_is_not_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, models=ModelRegistry(settings, loaders={}))

    @app.get("/fault")
    def fault() -> None:
        raise SoapFaultError(
            "login failed for user bob password=hunter2",
            fault_code="Server",
            reason="login failed for user bob password=hunter2",
        )

    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        response = client.get("/fault")
    assert response.status_code == 502
    assert "hunter2" not in caplog.text
    records = [r for r in caplog.records if "SoapFaultError" in r.getMessage()]
    assert records
    assert all(r.levelno == logging.WARNING for r in records)


def test_decode_json_limits() -> None:
    assert json_depth(b'{"a": "[[[[", "b": [[1]]}') == 3
    assert decode_json(b'{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}
    for raw in (DEEP, b'["\\ud800"]', b"\xff", b"nope"):
        with pytest.raises(BadInputError):
            decode_json(raw)
