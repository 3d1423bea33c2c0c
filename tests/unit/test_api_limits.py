"""Bounded resources over real HTTP: body caps (413 while streaming) and model-work backpressure
(429 with Retry-After)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rag.api.pool import ModelPool, SaturatedError
from rag.api.problems import PROBLEM_JSON
from tests.conftest import SettingsFactory
from tests.unit.live_app import serve_app


@pytest.fixture
def live(make_settings: SettingsFactory) -> Iterator[tuple[str, FastAPI]]:
    settings = make_settings(
        api={"warmup": [], "max_json_kb": 64, "model_workers": 1, "model_queue": 0}
    )
    yield from serve_app(settings)


JSON = {"content-type": "application/json"}


def test_declared_body_over_the_cap_is_413_before_reading(live: tuple[str, FastAPI]) -> None:
    url, _ = live
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400000000\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):  # the server closes: the body was never read
            received += chunk
        head = received.decode()
    assert head.startswith("HTTP/1.1 413"), head
    assert PROBLEM_JSON in head
    assert "MMRAG_API__MAX_JSON_KB" in head


def test_streamed_body_over_the_cap_is_413(live: tuple[str, FastAPI]) -> None:
    url, _ = live

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(200):
            yield b"a" * 1024
        yield b'"}'

    response = httpx.post(f"{url}/v1/search", headers=JSON, content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["limit"] == 64 * 1024


def test_saturated_model_pool_is_429_with_retry_after(live: tuple[str, FastAPI]) -> None:
    url, app = live
    release = threading.Event()

    class SlowSearcher:
        def search(self, request: Any, *, tenant: str) -> dict[str, Any]:
            release.wait(10)
            return {"results": [], "query": {}, "timings_ms": {}}

    state = app.state.mmrag
    state.runtime._searcher = SlowSearcher()
    results: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: results.append(
            httpx.post(f"{url}/v1/search", json={"text": "slow"}, timeout=30)
        )
    )
    first.start()
    deadline = time.monotonic() + 10
    while state.model_pool.admitted < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        busy = httpx.post(f"{url}/v1/search", json={"text": "second"}, timeout=30)
    finally:
        release.set()
        first.join(30)
    assert busy.status_code == 429
    assert busy.headers["content-type"] == PROBLEM_JSON
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["type"] == "urn:mmrag:problem:saturated"


def test_model_pool_refuses_beyond_workers_plus_queue() -> None:
    import anyio

    async def main() -> list[str]:
        pool = ModelPool(workers=1, queue=1)
        gate = threading.Event()
        outcomes: list[str] = []

        async def call() -> None:
            try:
                await pool.run(gate.wait, 5)
                outcomes.append("ran")
            except SaturatedError:
                outcomes.append("refused")

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)
            await anyio.sleep(0.2)
            gate.set()
        return outcomes

    assert sorted(anyio.run(main)) == ["ran", "ran", "refused"]


def test_each_kind_of_route_has_its_own_cap(make_settings: SettingsFactory) -> None:
    from rag.api.limits import body_kind, body_limits

    settings = make_settings(api={"max_json_kb": 8, "max_form_mb": 3})
    limits = body_limits(settings)
    assert body_kind("/v1/search", "application/json") == "json"
    assert body_kind("/v1/search", "multipart/form-data") == "form"
    assert body_kind("/v1/index", "multipart/form-data") == "form"
    assert body_kind("/v1/translate", "text/xml") == "translate"
    assert body_kind("/v1/bridge/svc/op", "application/json") == "bridge"
    assert body_kind("/v1/admin/bridge/services/x", "application/json") == "json"
    assert limits["json"][0] == 8 << 10
    assert limits["form"][0] == 3 << 20
    assert limits["bridge"][0] == settings.bridge.max_request_bytes


def test_multipart_upload_over_the_form_cap_is_413(make_settings: SettingsFactory) -> None:
    settings = make_settings(api={"warmup": [], "max_form_mb": 1})
    for url, _ in serve_app(settings):
        files = {"files": ("big.txt", b"x" * (2 << 20), "text/plain")}
        response = httpx.post(f"{url}/v1/index", files=files, timeout=30)
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_JSON
        assert "MMRAG_API__MAX_FORM_MB" in response.json()["detail"]
