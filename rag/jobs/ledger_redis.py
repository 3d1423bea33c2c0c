"""Job ledger in Redis: the state the API, the workers and the CLI share when a broker is
configured. It outlives any of them, so an API restart loses nothing.

Keys, under ``<MMRAG_JOBS__KEY_PREFIX>:jobs``::

    <p>:job:<id>            the job record (JSON); changed only with WATCH/MULTI
    <p>:job:<id>:paths      hash  batch index -> JSON list of files
    <p>:job:<id>:inflight   hash  batch index -> JSON list of files in progress
    <p>:job:<id>:results    hash  file path -> JSON result
    <p>:job:<id>:units      hash  modality -> units written
    <p>:all, <p>:tenant:<t> sorted sets of job ids by creation time

A finished job's keys expire after ``MMRAG_JOBS__RETENTION_DAYS``. The two sorted sets are
kept bounded on every insert: ids whose record has expired are dropped from the oldest end
of ``:all`` and of the job's tenant set, and beyond ``MMRAG_JOBS__MAX_JOBS`` the oldest
finished jobs are deleted outright (unfinished jobs are never dropped). Listing also drops
expired ids it meets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis

from indexers.report import FileResult
from rag.errors import NotFoundError, UpstreamError
from rag.jobs.model import JobRecord, result_from_json, result_to_json

T = TypeVar("T")
_SUFFIXES = ("", ":paths", ":inflight", ":results", ":units")
# Ids looked at per insert when trimming (bounded work per call).
_TRIM_WINDOW = 500


class RedisLedger:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        retention_s: float = 30 * 86400,
        max_jobs: int = 10_000,
    ) -> None:
        self.prefix = prefix
        self.retention_s = int(retention_s)
        self.max_jobs = max_jobs
        self.client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30
        )

    def _job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise UpstreamError(
                f"the job state store (Redis) is unavailable: {exc}", service="redis"
            ) from exc

    # -- jobs ------------------------------------------------------------------------------
    def insert(
        self, job: JobRecord, batches: Sequence[Sequence[str]], outcomes: Sequence[FileResult]
    ) -> None:
        key = self._job(job.id)
        with self._errors(), self.client.pipeline(transaction=True) as pipe:
            if batches:
                pipe.hset(
                    f"{key}:paths",
                    mapping={str(i): json.dumps(list(p)) for i, p in enumerate(batches)},
                )
            if outcomes:
                pipe.hset(f"{key}:results", mapping={r.path: result_to_json(r) for r in outcomes})
            # The record last: a reader that finds it finds everything it points to.
            pipe.set(key, job.to_json())
            pipe.zadd(f"{self.prefix}:all", {job.id: job.created_at})
            pipe.zadd(f"{self.prefix}:tenant:{job.tenant}", {job.id: job.created_at})
            if job.state.terminal:
                self._expire(pipe, job.id)
            pipe.execute()
        self._trim(job.tenant)

    def _trim(self, tenant: str) -> None:
        """Keep ``:all`` and the tenant's set bounded (see the module docstring)."""
        every = f"{self.prefix}:all"
        with self._errors():
            for index in (every, f"{self.prefix}:tenant:{tenant}"):
                ids = [_text(i) for i in self.client.zrange(index, 0, _TRIM_WINDOW - 1)]
                raws = self.client.mget([self._job(i) for i in ids]) if ids else []
                gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
                if gone:
                    self.client.zrem(index, *gone)
            excess = int(self.client.zcard(every)) - self.max_jobs
            if excess <= 0:
                return
            ids = [_text(i) for i in self.client.zrange(every, 0, _TRIM_WINDOW - 1)]
            raws = self.client.mget([self._job(i) for i in ids]) if ids else []
            finished = [
                job
                for job in (JobRecord.from_json(raw) for raw in raws if raw is not None)
                if job.state.terminal
            ][:excess]
            if not finished:
                return
            with self.client.pipeline(transaction=True) as pipe:
                for job in finished:
                    pipe.delete(*(f"{self._job(job.id)}{suffix}" for suffix in _SUFFIXES))
                    pipe.zrem(every, job.id)
                    pipe.zrem(f"{self.prefix}:tenant:{job.tenant}", job.id)
                pipe.execute()

    def load(self, job_id: str) -> JobRecord | None:
        with self._errors():
            raw = self.client.get(self._job(job_id))
        return JobRecord.from_json(raw) if raw is not None else None

    def update(self, job_id: str, change: Callable[[JobRecord], T]) -> T:
        key = self._job(job_id)
        with self._errors(), self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    if raw is None:
                        raise NotFoundError(f"no job {job_id!r}", job=job_id)
                    job = JobRecord.from_json(raw)
                    outcome = change(job)
                    pipe.multi()
                    pipe.set(key, job.to_json())
                    if job.state.terminal:
                        self._expire(pipe, job_id)
                    pipe.execute()
                    return outcome
                except redis.WatchError:
                    continue  # someone else changed it first: read again, apply again

    def _expire(self, pipe: Any, job_id: str) -> None:
        for suffix in _SUFFIXES:
            pipe.expire(f"{self._job(job_id)}{suffix}", self.retention_s)

    def jobs(self, *, tenant: str | None = None, limit: int = 50) -> list[JobRecord]:
        index = f"{self.prefix}:tenant:{tenant}" if tenant is not None else f"{self.prefix}:all"
        with self._errors():
            ids = [_text(i) for i in self.client.zrevrange(index, 0, limit - 1)]
            raws = self.client.mget([self._job(i) for i in ids]) if ids else []
            expired = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
            if expired:
                self.client.zrem(index, *expired)
        return [JobRecord.from_json(raw) for raw in raws if raw is not None]

    # -- batches ---------------------------------------------------------------------------
    def batch_paths(self, job_id: str, index: int) -> list[str]:
        with self._errors():
            raw = self.client.hget(f"{self._job(job_id)}:paths", str(index))
        if raw is None:
            raise NotFoundError(f"job {job_id!r} has no batch {index}", job=job_id)
        paths: list[str] = json.loads(raw)
        return paths

    def set_inflight(self, job_id: str, index: int, paths: Collection[str]) -> None:
        with self._errors():
            self.client.hset(f"{self._job(job_id)}:inflight", str(index), json.dumps(sorted(paths)))

    def inflight(self, job_id: str, index: int) -> set[str]:
        with self._errors():
            raw = self.client.hget(f"{self._job(job_id)}:inflight", str(index))
        return set(json.loads(raw)) if raw else set()

    # -- results and units -----------------------------------------------------------------
    def put_result(self, job_id: str, result: FileResult) -> None:
        with self._errors():
            self.client.hset(f"{self._job(job_id)}:results", result.path, result_to_json(result))

    def results(self, job_id: str, paths: Sequence[str] | None = None) -> dict[str, FileResult]:
        key = f"{self._job(job_id)}:results"
        raws: list[Any]
        with self._errors():
            if paths is None:
                raws = list(self.client.hgetall(key).values())
            else:
                raws = self.client.hmget(key, list(paths)) if paths else []
        found = [result_from_json(raw) for raw in raws if raw is not None]
        return {r.path: r for r in found}

    def count_results(self, job_id: str) -> int:
        with self._errors():
            return int(self.client.hlen(f"{self._job(job_id)}:results"))

    def add_units(self, job_id: str, modality: str, count: int) -> None:
        with self._errors():
            self.client.hincrby(f"{self._job(job_id)}:units", modality, count)

    def units(self, job_id: str) -> dict[str, int]:
        with self._errors():
            raw = self.client.hgetall(f"{self._job(job_id)}:units")
        return {_text(k): int(v) for k, v in raw.items()}

    def close(self) -> None:
        self.client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
