"""Failure modes against real loopback servers: timeouts, dropped and refused connections,
invalid replies, retries (idempotent operations only) and the concurrency limit."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.bridge.conftest import BridgeService, Upstream
from tests.integration.bridge.test_bridge_http import _problem

ADD = {"Add": {"intA": 1, "intB": 2}}
MULTIPLY = {"Multiply": {"intA": 3, "intB": 4}}


def test_slow_upstream_is_504_and_only_idempotent_operations_retry(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    path = "/slow/2000/calculator"
    adds, multiplies = upstream.count(path, "Add"), upstream.count(path, "Multiply")
    with bridge_service.client() as client:
        started = time.monotonic()
        body = _problem(client.post("/v1/bridge/calc-slow/Add", json=ADD), 504, "upstream-timeout")
        elapsed = time.monotonic() - started
        assert body["attempts"] == 2  # idempotent: one retry (retries=1)
        assert elapsed < 1.9, "the 0.4 s timeout did not cut the 2 s upstream short"
        body = _problem(
            client.post("/v1/bridge/calc-slow/Multiply", json=MULTIPLY), 504, "upstream-timeout"
        )
        assert body["attempts"] == 1
    assert upstream.count(path, "Add") == adds + 2
    assert upstream.count(path, "Multiply") == multiplies + 1  # never sent twice


def test_dropped_connection_is_retried_only_when_idempotent(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    """/flaky/1 drops the first request per operation, then answers."""
    path = "/flaky/1/calculator"
    with bridge_service.client() as client:
        added = client.post("/v1/bridge/calc-flaky/Add", json=ADD)
        assert added.status_code == 200, added.text
        assert added.json() == {"AddResponse": {"AddResult": 3}}
        assert added.headers["X-Upstream-Attempts"] == "2"
        multiplied = client.post("/v1/bridge/calc-flaky/Multiply", json=MULTIPLY)
        body = _problem(multiplied, 502, "upstream-unreachable")
        assert "dropped" in str(body["detail"]) or "broke" in str(body["detail"])
        assert body["attempts"] == 1
    assert upstream.count(path, "Add") == 2
    assert upstream.count(path, "Multiply") == 1  # the retry that must not happen did not


def test_dropped_refused_and_garbage_upstreams_are_502(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    drops = upstream.count("/drop/calculator", "Multiply")
    with bridge_service.client() as client:
        _problem(
            client.post("/v1/bridge/calc-drop/Multiply", json=MULTIPLY), 502, "upstream-unreachable"
        )
        refused = _problem(
            client.post("/v1/bridge/calc-refused/Add", json=ADD), 502, "upstream-unreachable"
        )
        assert "cannot connect" in str(refused["detail"])
        assert refused["attempts"] == 3  # idempotent: the two default retries, then 502
        garbage = client.post("/v1/bridge/calc-garbage/Multiply", json=MULTIPLY)
        body = _problem(garbage, 502, "upstream-invalid")
        assert body["reason"] == "xml-malformed"
    assert upstream.count("/drop/calculator", "Multiply") == drops + 1


def test_concurrency_limit_answers_503_with_retry_after(bridge_service: BridgeService) -> None:
    """calc-narrow allows one call in flight; its upstream takes 1.5 s; the queue waits 0.3 s."""

    def call() -> httpx.Response:
        with bridge_service.client() as client:
            return client.post("/v1/bridge/calc-narrow/Add", json=ADD)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call)
        time.sleep(0.3)
        second = pool.submit(call)
        responses = [first.result(), second.result()]
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503], [r.text for r in responses]
    busy = next(r for r in responses if r.status_code == 503)
    _problem(busy, 503, "overloaded")
    assert busy.headers["Retry-After"] == "1"
