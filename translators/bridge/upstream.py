"""One upstream: its connection pool, concurrency limit, timeouts and retry policy.

Each registered service gets an :class:`Upstream`: a keep-alive pool of the bridge's own
HTTP/1.1 client (:mod:`translators.bridge.http11`, a tenth of httpx's CPU per POST) as large
as the concurrency limit, or an ``httpx.AsyncClient`` when a transport is injected (tests).
A call waits at most ``queue_timeout_s`` for a free slot (else
:class:`~rag.errors.OverloadedError`, 503 with ``Retry-After``); each attempt has a connect
timeout and an overall deadline. Only operations declared idempotent are retried,
after a dropped or refused connection, a timeout, or an HTTP 502/503/504, with exponential
backoff and jitter (a ``Retry-After`` from the upstream is honoured up to ``max_backoff_s``).
A non-idempotent operation is sent exactly once: whatever happened, it is never repeated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from rag.errors import (
    OverloadedError,
    UpstreamInvalidError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from translators.bridge.http11 import (
    ConnectTimeoutError,
    Http11Pool,
    HttpProtocolError,
    ReplyTooLargeError,
    UpstreamClosedError,
)
from translators.bridge.soap import SoapRequest

logger = logging.getLogger(__name__)

__all__ = ["Upstream", "UpstreamLimits", "UpstreamReply"]

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class UpstreamLimits:
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_concurrency: int = 16
    queue_timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    max_reply_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    content_type: str
    body: bytes
    attempts: int
    elapsed_s: float


# (service, outcome) -> None; outcome is ok, http-<status>, timeout, unreachable, too-large
AttemptListener = Callable[[str, str, float], None]


class Upstream:
    def __init__(
        self,
        name: str,
        limits: UpstreamLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_attempt: AttemptListener | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        self._on_attempt = on_attempt
        self._client: httpx.AsyncClient | None = None
        self._pool: Http11Pool | None = None
        if transport is None:
            self._pool = Http11Pool(
                connect_timeout_s=limits.connect_timeout_s,
                max_idle=limits.max_concurrency,
                max_body_bytes=limits.max_reply_bytes,
            )
        else:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(limits.timeout_s, connect=limits.connect_timeout_s),
                limits=httpx.Limits(
                    max_connections=limits.max_concurrency,
                    max_keepalive_connections=limits.max_concurrency,
                ),
                follow_redirects=False,
                transport=transport,
                trust_env=False,  # never route a loopback upstream through an environment proxy
            )
        self._slots = asyncio.Semaphore(limits.max_concurrency)
        self.in_flight = 0

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._pool is not None:
            await self._pool.aclose()

    async def post(self, url: str, request: SoapRequest, *, idempotent: bool) -> UpstreamReply:
        attempts = 1 + (self.limits.retries if idempotent else 0)
        started = time.perf_counter()
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                reply = await self._attempt(url, request)
            except (UpstreamTimeoutError, UpstreamUnreachableError) as exc:
                exc.extra["attempts"] = attempt
                if last:
                    raise
                delay = self._backoff(attempt, None)
                logger.info(
                    "%s: attempt %d failed (%s); retrying in %.2fs", self.name, attempt,
                    exc.code, delay,
                )  # fmt: skip
            else:
                if reply.status not in RETRY_STATUSES or last:
                    return UpstreamReply(
                        reply.status,
                        reply.content_type,
                        reply.body,
                        attempt,
                        time.perf_counter() - started,
                    )
                delay = self._backoff(attempt, reply.retry_after)
                logger.info(
                    "%s: attempt %d got HTTP %d; retrying in %.2fs", self.name, attempt,
                    reply.status, delay,
                )  # fmt: skip
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = self.limits.max_backoff_s
        if retry_after is not None:
            return min(max(retry_after, 0.0), cap)
        base = min(cap, self.limits.backoff_s * float(2 ** (attempt - 1)))
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
        return base * jitter

    async def _slot(self) -> None:
        try:
            async with asyncio.timeout(self.limits.queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise OverloadedError(
                f"{self.name}: all {self.limits.max_concurrency} upstream slots are busy",
                retry_after_s=max(1.0, self.limits.queue_timeout_s),
                service=self.name,
            ) from None

    async def _attempt(self, url: str, request: SoapRequest) -> _Raw:
        await self._slot()
        self.in_flight += 1
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                raw = await self._send(url, request)
            outcome = "ok" if raw.status < 400 else f"http-{raw.status}"
            return raw
        except (TimeoutError, httpx.TimeoutException) as exc:
            outcome = "timeout"
            connect = isinstance(exc, httpx.ConnectTimeout | ConnectTimeoutError)
            what = "connect" if connect else "reply"
            raise UpstreamTimeoutError(
                f"{self.name}: no {what} from the upstream within "
                f"{self.limits.connect_timeout_s if what == 'connect' else self.limits.timeout_s}s",
                service=self.name,
                phase=what,  # "reply": the upstream had the request and may have acted on it
            ) from exc
        except httpx.TransportError as exc:
            outcome = "unreachable"
            raise UpstreamUnreachableError(
                f"{self.name}: {_describe(exc)}", service=self.name
            ) from exc
        except OSError as exc:  # the own client: refused, reset, dropped, not HTTP
            outcome = "unreachable"
            raise UpstreamUnreachableError(
                f"{self.name}: {_describe_os(exc)}", service=self.name
            ) from exc
        except UpstreamInvalidError:
            outcome = "too-large"
            raise
        finally:
            self.in_flight -= 1
            self._slots.release()
            if self._on_attempt is not None:
                self._on_attempt(self.name, outcome, time.perf_counter() - started)

    async def _send(self, url: str, request: SoapRequest) -> _Raw:
        limit = self.limits.max_reply_bytes
        if self._pool is not None:
            try:
                own = await self._pool.post(url, request.body, request.headers)
            except ReplyTooLargeError as exc:
                size = f"{exc.declared} bytes, " if exc.declared is not None else ""
                raise UpstreamInvalidError(
                    f"{self.name}: the reply is {size}over the limit of {limit} bytes",
                    service=self.name,
                ) from None
            after = own.headers.get("retry-after", "")
            return _Raw(
                own.status,
                own.headers.get("content-type", ""),
                own.body,
                float(after) if after.isdigit() else None,
            )
        assert self._client is not None
        async with self._client.stream(
            "POST", url, content=request.body, headers=request.headers
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise UpstreamInvalidError(
                    f"{self.name}: the reply is {declared} bytes, over the limit of {limit}",
                    service=self.name,
                )
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > limit:
                    raise UpstreamInvalidError(
                        f"{self.name}: the reply is over the limit of {limit} bytes",
                        service=self.name,
                    )
                chunks.append(chunk)
            retry_after = response.headers.get("retry-after", "")
            return _Raw(
                response.status_code,
                response.headers.get("content-type", ""),
                b"".join(chunks),
                float(retry_after) if retry_after.isdigit() else None,
            )


@dataclass(frozen=True)
class _Raw:
    status: int
    content_type: str
    body: bytes
    retry_after: float | None


def _describe_os(exc: OSError) -> str:
    if isinstance(exc, UpstreamClosedError):
        return "the upstream dropped the connection"
    if isinstance(exc, HttpProtocolError):
        return f"the upstream does not speak HTTP/1.x as expected ({exc})"
    if isinstance(exc, ConnectionRefusedError) or not isinstance(exc, ConnectionError):
        return f"cannot connect to the upstream ({exc.strerror or exc})"
    return f"the connection to the upstream broke ({type(exc).__name__})"


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to the upstream ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the upstream dropped the connection ({exc})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"the connection to the upstream broke ({exc or type(exc).__name__})"
    return f"upstream transport error: {type(exc).__name__}: {exc}"
