"""The bridge's HTTP/1.1 upstream client against a raw asyncio server on loopback: body
framings, interim responses, keep-alive reuse, limits and broken upstreams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from translators.bridge.http11 import (
    Http11Pool,
    HttpProtocolError,
    ReplyTooLargeError,
    UpstreamClosedError,
)

Answer = Callable[[bytes], bytes | None]  # request head+body -> raw response (None: drop)
CLOSE = b"<!-- the server closes after this -->"


async def _serve(answer: Answer, connections: list[int]) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                raw = answer(head + body)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                if b"Connection: close" in raw or raw.endswith(CLOSE):
                    break
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/svc?x=1"


def _run(answer: Answer, work: Callable[[Http11Pool, str], Awaitable[object]]) -> list[int]:
    connections: list[int] = []

    async def main() -> None:
        server, url = await _serve(answer, connections)
        pool = Http11Pool(connect_timeout_s=2, max_idle=4, max_body_bytes=1000)
        try:
            await work(pool, url)
        finally:
            await pool.aclose()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    return connections


def test_content_length_chunked_and_interim_responses_on_one_connection() -> None:
    seen: list[bytes] = []

    def answer(request: bytes) -> bytes:
        seen.append(request)
        if b"chunked" in request:
            return (
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/xml\r\n\r\n"
                b"3;ext=1\r\n<a>\r\n4\r\n</a>\r\n0\r\nTrailer: x\r\n\r\n"
            )
        return b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\nRetry-After: 3\r\n\r\nfault"

    async def work(pool: Http11Pool, url: str) -> None:
        plain = await pool.post(url, b"<x/>", {"SOAPAction": '"a"\r\nX-Evil: 1'})
        assert (plain.status, plain.body, plain.headers["retry-after"]) == (500, b"fault", "3")
        chunked = await pool.post(url, b"chunked", {})
        assert (chunked.status, chunked.body) == (200, b"<a></a>")
        assert chunked.headers["content-type"] == "text/xml"

    connections = _run(answer, work)
    assert len(connections) == 1  # kept alive
    assert seen[0].startswith(b"POST /svc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b'SOAPAction: "a"  X-Evil: 1\r\n' in seen[0]  # no header injection
    assert seen[0].endswith(b"Content-Length: 4\r\n\r\n<x/>")


def test_close_delimited_body_and_connection_close_are_not_reused() -> None:
    def answer(request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<done/>"

    async def work(pool: Http11Pool, url: str) -> None:
        for _ in range(2):
            reply = await pool.post(url, b"", {})
            assert reply.body == b"<done/>"

    assert len(_run(answer, work)) == 2


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", ReplyTooLargeError),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7D1\r\n", ReplyTooLargeError),
        (b"SSH-2.0-OpenSSH\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + CLOSE, UpstreamClosedError),
        (None, UpstreamClosedError),
    ],
)
def test_broken_or_oversized_replies_raise(raw: bytes | None, error: type[Exception]) -> None:
    async def work(pool: Http11Pool, url: str) -> None:
        with pytest.raises(error):
            await asyncio.wait_for(pool.post(url, b"x", {}), 5)

    _run(lambda request: raw, work)


def test_refused_connection_is_an_os_error() -> None:
    async def main() -> None:
        pool = Http11Pool(connect_timeout_s=2, max_idle=1, max_body_bytes=10)
        with pytest.raises(ConnectionRefusedError):
            await pool.post("http://127.0.0.1:9/x", b"", {})

    asyncio.run(main())
