"""Idempotency-Key records: the first call runs, a repeat replays its stored response.

A record is keyed by a hash of (tenant, service, operation, key), so tenants never see each
other's responses, and remembers a fingerprint of the request body. :meth:`begin` claims the
key atomically: ``new`` (run it, then :meth:`complete` or :meth:`release`), ``replay`` (the
stored response), ``mismatch`` (same key, different body: 422) or ``in_flight`` (a call with
this key is still running: 409). A claim expires after ``lock_ttl_s`` so a crashed process
does not hold a key forever; a completed record lives ``ttl_s``.

Two stores with the same semantics: :class:`RedisIdempotencyStore` (``SET NX PX``, Lua for
compare-and-set) when a Redis URL is configured, :class:`SqliteIdempotencyStore` (one file
under the data dir, shared by the processes of one machine) otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from rag.errors import StoreError

__all__ = [
    "Claim",
    "IdempotencyStore",
    "RedisIdempotencyStore",
    "SqliteIdempotencyStore",
    "StoredResponse",
    "scoped_key",
]


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredResponse:
        return cls(int(data["status"]), base64.b64decode(data["body"]), dict(data["headers"]))


@dataclass(frozen=True)
class Claim:
    state: Literal["new", "replay", "mismatch", "in_flight"]
    token: str = ""
    response: StoredResponse | None = None


def scoped_key(tenant: str, service: str, operation: str, key: str) -> str:
    raw = "\0".join((tenant, service, operation, key)).encode()
    return hashlib.sha256(raw).hexdigest()


class IdempotencyStore(Protocol):
    async def begin(self, key: str, fingerprint: str, *, lock_ttl_s: float) -> Claim: ...

    async def complete(
        self, key: str, claim: Claim, fingerprint: str, response: StoredResponse, *, ttl_s: float
    ) -> None: ...

    async def release(self, key: str, claim: Claim) -> None: ...

    async def aclose(self) -> None: ...


# -- Redis -------------------------------------------------------------------------------
_COMPLETE = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current)['token'] == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current)['token'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisIdempotencyStore:
    """Redis errors become :class:`~rag.errors.StoreError` (503): without its store the
    bridge cannot promise a replay, so it refuses rather than risk a second upstream call."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis_asyncio

        self.prefix = prefix
        self._redis = redis_asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    async def begin(self, key: str, fingerprint: str, *, lock_ttl_s: float) -> Claim:
        async with _redis_errors():
            return await self._begin(key, fingerprint, lock_ttl_s)

    async def _begin(self, key: str, fingerprint: str, lock_ttl_s: float) -> Claim:
        name = self.prefix + key
        token = secrets.token_hex(16)
        pending = json.dumps({"state": "pending", "fp": fingerprint, "token": token})
        for _ in range(3):
            if await self._redis.set(name, pending, nx=True, px=_ms(lock_ttl_s)):
                return Claim("new", token)
            raw = await self._redis.get(name)
            if raw is not None:
                return _existing(json.loads(raw), fingerprint)
        return Claim("in_flight")  # the key flapped three times: let the caller retry

    async def complete(
        self, key: str, claim: Claim, fingerprint: str, response: StoredResponse, *, ttl_s: float
    ) -> None:
        done = json.dumps(
            {"state": "done", "fp": fingerprint, "token": claim.token, **response.to_json()}
        )
        async with _redis_errors():
            await self._redis.eval(_COMPLETE, 1, self.prefix + key, claim.token, done, _ms(ttl_s))

    async def release(self, key: str, claim: Claim) -> None:
        async with _redis_errors():
            await self._redis.eval(_RELEASE, 1, self.prefix + key, claim.token)

    async def aclose(self) -> None:
        await self._redis.aclose()


@asynccontextmanager
async def _redis_errors() -> AsyncIterator[None]:
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as exc:
        raise StoreError(
            f"the idempotency store (Redis) is unavailable: {type(exc).__name__}"
        ) from exc


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _existing(record: dict[str, Any], fingerprint: str) -> Claim:
    if record.get("fp") != fingerprint:
        return Claim("mismatch")
    if record.get("state") != "done":
        return Claim("in_flight")
    return Claim("replay", response=StoredResponse.from_json(record))


# -- SQLite (embedded) -------------------------------------------------------------------
class SqliteIdempotencyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Stored responses may carry what the upstream said about a caller: owner-only.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, record TEXT NOT NULL,"
            " expires REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS idempotency_expires ON idempotency(expires)")
        self._purged = 0.0

    async def begin(self, key: str, fingerprint: str, *, lock_ttl_s: float) -> Claim:
        return await asyncio.to_thread(self._begin, key, fingerprint, lock_ttl_s)

    def _begin(self, key: str, fingerprint: str, lock_ttl_s: float) -> Claim:
        token = secrets.token_hex(16)
        now = time.time()
        pending = json.dumps({"state": "pending", "fp": fingerprint, "token": token})
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if now - self._purged > 60:
                    self._db.execute("DELETE FROM idempotency WHERE expires <= ?", (now,))
                    self._purged = now
                row = self._db.execute(
                    "SELECT record, expires FROM idempotency WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and row[1] > now:
                    claim = _existing(json.loads(row[0]), fingerprint)
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?)",
                        (key, pending, now + lock_ttl_s),
                    )
                    claim = Claim("new", token)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return claim

    async def complete(
        self, key: str, claim: Claim, fingerprint: str, response: StoredResponse, *, ttl_s: float
    ) -> None:
        done = json.dumps(
            {"state": "done", "fp": fingerprint, "token": claim.token, **response.to_json()}
        )
        await asyncio.to_thread(self._swap, key, claim.token, done, time.time() + ttl_s)

    async def release(self, key: str, claim: Claim) -> None:
        await asyncio.to_thread(self._swap, key, claim.token, None, 0.0)

    def _swap(self, key: str, token: str, record: str | None, expires: float) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT record FROM idempotency WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and json.loads(row[0]).get("token") == token:
                    if record is None:
                        self._db.execute("DELETE FROM idempotency WHERE key = ?", (key,))
                    else:
                        self._db.execute(
                            "UPDATE idempotency SET record = ?, expires = ? WHERE key = ?",
                            (record, expires, key),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()
