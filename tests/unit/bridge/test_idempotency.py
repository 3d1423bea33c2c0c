"""The embedded Idempotency-Key store's semantics (the Redis store runs the same
scenarios in tests/integration/bridge/test_bridge_idempotency.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rag.errors import StoreError
from translators.bridge.idempotency import (
    RedisIdempotencyStore,
    SqliteIdempotencyStore,
    StoredResponse,
    scoped_key,
)

OK = StoredResponse(200, b'{"a":1}', {"X-Translation-Schema": "urn:x"})


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_new_replay_mismatch_and_in_flight(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SqliteIdempotencyStore(tmp_path / "idem.sqlite3")
        try:
            claim = await store.begin("k", "fp1", lock_ttl_s=60)
            assert claim.state == "new"
            assert (await store.begin("k", "fp1", lock_ttl_s=60)).state == "in_flight"
            assert (await store.begin("k", "fp2", lock_ttl_s=60)).state == "mismatch"
            await store.complete("k", claim, "fp1", OK, ttl_s=60)
            replay = await store.begin("k", "fp1", lock_ttl_s=60)
            assert replay.state == "replay"
            assert replay.response == OK
            assert (await store.begin("k", "fp2", lock_ttl_s=60)).state == "mismatch"
        finally:
            await store.aclose()

    _run(scenario())
    assert (tmp_path / "idem.sqlite3").stat().st_mode & 0o077 == 0


def test_release_and_expiry(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SqliteIdempotencyStore(tmp_path / "idem.sqlite3")
        try:
            claim = await store.begin("k", "fp", lock_ttl_s=60)
            await store.release("k", claim)
            assert (await store.begin("k", "fp", lock_ttl_s=0.05)).state == "new"
            await asyncio.sleep(0.1)  # the claim expired: a crashed caller does not hold the key
            again = await store.begin("k", "other", lock_ttl_s=60)
            assert again.state == "new"
            await store.complete("k", again, "other", OK, ttl_s=0.05)
            await asyncio.sleep(0.1)
            assert (await store.begin("k", "fp", lock_ttl_s=60)).state == "new"
        finally:
            await store.aclose()

    _run(scenario())


def test_a_stale_claim_cannot_overwrite_the_new_owner(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SqliteIdempotencyStore(tmp_path / "idem.sqlite3")
        try:
            stale = await store.begin("k", "fp", lock_ttl_s=0.05)
            await asyncio.sleep(0.1)
            owner = await store.begin("k", "fp", lock_ttl_s=60)
            await store.complete("k", stale, "fp", OK, ttl_s=60)  # ignored: not its key now
            await store.release("k", stale)  # ignored too
            assert (await store.begin("k", "fp", lock_ttl_s=60)).state == "in_flight"
            await store.complete("k", owner, "fp", OK, ttl_s=60)
            assert (await store.begin("k", "fp", lock_ttl_s=60)).state == "replay"
        finally:
            await store.aclose()

    _run(scenario())


def test_two_processes_share_the_file(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = SqliteIdempotencyStore(tmp_path / "idem.sqlite3")
        second = SqliteIdempotencyStore(tmp_path / "idem.sqlite3")
        try:
            claim = await first.begin("k", "fp", lock_ttl_s=60)
            assert (await second.begin("k", "fp", lock_ttl_s=60)).state == "in_flight"
            await first.complete("k", claim, "fp", OK, ttl_s=60)
            assert (await second.begin("k", "fp", lock_ttl_s=60)).state == "replay"
        finally:
            await first.aclose()
            await second.aclose()

    _run(scenario())


@pytest.mark.parametrize(
    "other",
    [("globex", "calc", "Add", "k"), ("acme", "numbers", "Add", "k"), ("acme", "calc", "Sub", "k")],
)
def test_keys_are_scoped(other: tuple[str, str, str, str]) -> None:
    assert scoped_key("acme", "calc", "Add", "k") != scoped_key(*other)
    # no separator games: ("a", "bc") and ("ab", "c") differ
    assert scoped_key("a", "bc", "x", "k") != scoped_key("ab", "c", "x", "k")


def test_an_unreachable_redis_is_a_store_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the store connects

    async def scenario() -> None:
        store = RedisIdempotencyStore(f"redis://127.0.0.1:{port}/0", "test:")
        try:
            with pytest.raises(StoreError, match="Redis"):
                await store.begin("k", "fp", lock_ttl_s=1)
        finally:
            await store.aclose()

    _run(scenario())
