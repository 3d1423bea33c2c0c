"""The upstream policy with httpx's MockTransport: retries, timeouts, limits, sizes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rag.errors import (
    OverloadedError,
    UpstreamInvalidError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from translators.bridge.soap import SoapRequest
from translators.bridge.upstream import Upstream, UpstreamLimits, UpstreamReply

REQUEST = SoapRequest(b"<Envelope/>", {"Content-Type": "text/xml"})
URL = "http://127.0.0.1:9/soap"
FAST = {"backoff_s": 0.001, "max_backoff_s": 0.01}


def _post(
    handler: Callable[[httpx.Request], Any], *, idempotent: bool, **limits: Any
) -> tuple[UpstreamReply | Exception, list[str]]:
    attempts: list[str] = []

    async def run() -> UpstreamReply | Exception:
        upstream = Upstream(
            "svc",
            UpstreamLimits(**{**FAST, **limits}),
            transport=httpx.MockTransport(handler),
            on_attempt=lambda _service, outcome, _s: attempts.append(outcome),
        )
        try:
            return await upstream.post(URL, REQUEST, idempotent=idempotent)
        except Exception as exc:
            return exc
        finally:
            await upstream.aclose()

    return asyncio.run(run()), attempts


def _flaky(failures: list[Exception | int]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            failure = failures.pop(0)
            if isinstance(failure, int):
                return httpx.Response(failure, headers={"Retry-After": "0"})
            raise failure
        return httpx.Response(200, content=b"<ok/>", headers={"Content-Type": "text/xml"})

    return handler


def test_idempotent_calls_retry_after_drops_and_gateway_errors() -> None:
    handler = _flaky([httpx.RemoteProtocolError("dropped"), 503])
    reply, attempts = _post(handler, idempotent=True, retries=2)
    assert isinstance(reply, UpstreamReply)
    assert (reply.status, reply.attempts, reply.body) == (200, 3, b"<ok/>")
    assert attempts == ["unreachable", "http-503", "ok"]


def test_non_idempotent_calls_are_sent_once() -> None:
    reply, attempts = _post(_flaky([httpx.ReadError("reset")]), idempotent=False, retries=5)
    assert isinstance(reply, UpstreamUnreachableError)
    assert reply.extra["attempts"] == 1
    assert attempts == ["unreachable"]
    reply, attempts = _post(_flaky([503]), idempotent=False, retries=5)
    assert isinstance(reply, UpstreamReply)
    assert reply.status == 503  # returned as it is, not retried
    assert attempts == ["http-503"]


def test_retries_stop_after_the_configured_count() -> None:
    failures: list[Exception | int] = [httpx.ConnectError("refused")] * 5
    reply, attempts = _post(_flaky(failures), idempotent=True, retries=2)
    assert isinstance(reply, UpstreamUnreachableError)
    assert "cannot connect" in reply.detail
    assert reply.extra["attempts"] == 3
    assert len(attempts) == 3


def test_a_slow_upstream_times_out() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200)

    reply, attempts = _post(slow, idempotent=False, timeout_s=0.05)
    assert isinstance(reply, UpstreamTimeoutError)
    assert attempts == ["timeout"]


def test_a_reply_over_the_size_limit_is_refused() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 5000)

    reply, attempts = _post(big, idempotent=True, max_reply_bytes=1024)
    assert isinstance(reply, UpstreamInvalidError)
    assert attempts == ["too-large"]  # not retried: the upstream answered


def test_a_full_concurrency_limit_is_overloaded() -> None:
    async def run() -> list[Any]:
        gate = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            await gate.wait()
            return httpx.Response(200, content=b"<ok/>")

        upstream = Upstream(
            "svc",
            UpstreamLimits(max_concurrency=1, queue_timeout_s=0.05),
            transport=httpx.MockTransport(handler),
        )
        first = asyncio.create_task(upstream.post(URL, REQUEST, idempotent=False))
        await asyncio.sleep(0.01)
        second = await asyncio.gather(
            upstream.post(URL, REQUEST, idempotent=False), return_exceptions=True
        )
        gate.set()
        results = [await first, *second]
        await upstream.aclose()
        return results

    first, second = asyncio.run(run())
    assert isinstance(first, UpstreamReply)
    assert isinstance(second, OverloadedError)
    assert second.retry_after_s == 1.0


@pytest.mark.parametrize(("attempt", "cap"), [(1, 0.1), (2, 0.2), (3, 0.4), (10, 2.0)])
def test_backoff_doubles_with_jitter_up_to_the_cap(attempt: int, cap: float) -> None:
    async def make() -> Upstream:
        return Upstream("svc", UpstreamLimits(backoff_s=0.1, max_backoff_s=2.0))

    upstream = asyncio.run(make())
    delays = [upstream._backoff(attempt, None) for _ in range(50)]
    assert all(cap / 2 <= d <= cap for d in delays)
    assert upstream._backoff(attempt, 30.0) == 2.0  # Retry-After, capped
