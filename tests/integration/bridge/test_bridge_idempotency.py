"""Idempotency-Key over real HTTP, with the embedded (SQLite) store and with real Redis."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.bridge.conftest import BridgeService, Upstream
from tests.integration.bridge.test_bridge_http import _problem

MULTIPLY = {"Multiply": {"intA": 6, "intB": 7}}


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest) -> BridgeService:
    name = "bridge_service" if request.param == "sqlite" else "redis_bridge_service"
    found: BridgeService = request.getfixturevalue(name)
    return found


def test_replay_calls_the_upstream_once(service: BridgeService, upstream: Upstream) -> None:
    """Multiply is not idempotent: with a key, a repeat replays instead of multiplying again."""
    key = uuid.uuid4().hex
    before = upstream.count("/calculator", "Multiply")
    with service.client(**{"Idempotency-Key": key}) as client:
        first = client.post("/v1/bridge/calc/Multiply", json=MULTIPLY)
        second = client.post("/v1/bridge/calc/Multiply", json=MULTIPLY)
        # the same JSON written differently (spacing, key order) is the same request
        third = client.post(
            "/v1/bridge/calc/Multiply",
            content=b'{ "Multiply" : { "intB": 7,  "intA": 6 } }',
            headers={"Content-Type": "application/json"},
        )
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.content == second.content == third.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["X-Translation-Schema"] == first.headers["X-Translation-Schema"]
    assert upstream.count("/calculator", "Multiply") == before + 1


def test_same_key_with_another_body_is_422(service: BridgeService, upstream: Upstream) -> None:
    key = uuid.uuid4().hex
    with service.client(**{"Idempotency-Key": key}) as client:
        assert client.post("/v1/bridge/calc/Multiply", json=MULTIPLY).status_code == 200
        before = upstream.count("/calculator", "Multiply")
        other = client.post("/v1/bridge/calc/Multiply", json={"Multiply": {"intA": 6, "intB": 8}})
        _problem(other, 422, "idempotency-key-reused")
    assert upstream.count("/calculator", "Multiply") == before


def test_keys_are_scoped_per_tenant_and_operation(
    service: BridgeService, upstream: Upstream
) -> None:
    key = uuid.uuid4().hex
    before = upstream.count("/calculator", "Multiply")
    with service.client("acme", **{"Idempotency-Key": key}) as acme:
        assert acme.post("/v1/bridge/calc/Multiply", json=MULTIPLY).status_code == 200
        # another operation with the same key is another record, not a 422
        added = acme.post("/v1/bridge/calc/Add", json={"Add": {"intA": 1, "intB": 1}})
        assert added.status_code == 200
        assert "Idempotent-Replayed" not in added.headers
    with service.client("globex", **{"Idempotency-Key": key}) as globex:
        response = globex.post("/v1/bridge/calc/Multiply", json=MULTIPLY)
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers  # never another tenant's response
    assert upstream.count("/calculator", "Multiply") == before + 2


def test_a_fault_is_replayed_and_a_timeout_is_not_stored(
    service: BridgeService, upstream: Upstream
) -> None:
    key = uuid.uuid4().hex
    divide = {"Divide": {"intA": 1, "intB": 0}}
    before = upstream.count("/calculator", "Divide")
    with service.client(**{"Idempotency-Key": key}) as client:
        first = _problem(client.post("/v1/bridge/calc/Divide", json=divide), 400,
                         "soap-client-fault")  # fmt: skip
        again = _problem(client.post("/v1/bridge/calc/Divide", json=divide), 400,
                         "soap-client-fault")  # fmt: skip
        assert again["fault"] == first["fault"]
        assert again["replayed"] is True
        assert upstream.count("/calculator", "Divide") == before + 1
        # An idempotent operation's timeout stores nothing: the same key may try again.
        slow = {"Add": {"intA": 2, "intB": 2}}
        path = "/slow/2000/calculator"
        slow_before = upstream.count(path, "Add")
        _problem(client.post("/v1/bridge/calc-slow/Add", json=slow), 504, "upstream-timeout")
        _problem(client.post("/v1/bridge/calc-slow/Add", json=slow), 504, "upstream-timeout")
        assert upstream.count(path, "Add") == slow_before + 4  # two calls, one retry each


def test_a_timed_out_non_idempotent_call_is_never_sent_again(
    service: BridgeService, upstream: Upstream
) -> None:
    """Multiply is not idempotent: it timed out after the upstream got it, so the upstream
    may have multiplied. The same key answers 409 outcome-unknown naming the first attempt,
    without sending; a new key sends."""
    key = uuid.uuid4().hex
    slow = {"Multiply": {"intA": 2, "intB": 2}}
    path = "/slow/2000/calculator"
    before = upstream.count(path, "Multiply")
    with service.client(**{"Idempotency-Key": key}) as client:
        first = client.post("/v1/bridge/calc-slow/Multiply", json=slow)
        timed_out = _problem(first, 504, "upstream-timeout")
        assert "outcome-unknown" in str(timed_out["idempotency"])
        for _ in range(2):
            again = _problem(
                client.post("/v1/bridge/calc-slow/Multiply", json=slow),
                409,
                "idempotency-outcome-unknown",
            )
            attempt = again["first_attempt"]
            assert isinstance(attempt, dict)
            assert attempt["request_id"] == first.headers["X-Request-ID"]
            assert attempt["problem"] == "upstream-timeout"
            assert first.headers["X-Request-ID"] in str(again["detail"])
        # another body under the same key is still a reused key, not a new call
        other = client.post(
            "/v1/bridge/calc-slow/Multiply", json={"Multiply": {"intA": 3, "intB": 3}}
        )
        _problem(other, 422, "idempotency-key-reused")
    assert upstream.count(path, "Multiply") == before + 1
    with service.client(**{"Idempotency-Key": uuid.uuid4().hex}) as client:
        _problem(client.post("/v1/bridge/calc-slow/Multiply", json=slow), 504, "upstream-timeout")
    assert upstream.count(path, "Multiply") == before + 2


def test_concurrent_requests_with_one_key_reach_the_upstream_once(
    service: BridgeService, upstream: Upstream
) -> None:
    """While the first call waits on the 1.5 s upstream, the second gets 409."""
    key = uuid.uuid4().hex
    path = "/slow/1500/calculator"
    before = upstream.count(path, "Multiply")

    def call() -> httpx.Response:
        with service.client(**{"Idempotency-Key": key}) as client:
            return client.post("/v1/bridge/calc-narrow/Multiply", json=MULTIPLY)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call)
        time.sleep(0.4)
        second = pool.submit(call)
        responses = [first.result(), second.result()]
    assert sorted(r.status_code for r in responses) == [200, 409]
    _problem(next(r for r in responses if r.status_code == 409), 409, "conflict")
    with service.client(**{"Idempotency-Key": key}) as client:
        replay = client.post("/v1/bridge/calc-narrow/Multiply", json=MULTIPLY)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert upstream.count(path, "Multiply") == before + 1
