"""The job ledger: where job state lives, outside any one process.

Two backends, one behaviour (the same tests run against both):

- :class:`~rag.jobs.ledger_sqlite.SqliteLedger` under the data dir, for the embedded default
  (no servers): the API, the CLI and ``mmrag jobs status`` in another shell share it.
- :class:`~rag.jobs.ledger_redis.RedisLedger` when a broker is configured, so the API, the
  workers and the CLI on any host see the same jobs.

The job record (small: state and one entry per batch) changes only through ``update``, an
atomic read-modify-write that applies a function from :mod:`rag.jobs.lifecycle`. Per-file
data, which grows with the job, lives beside it: file results, the files a runner has in
progress, and running unit counts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol, TypeVar

from indexers.report import FileResult
from rag.jobs.model import JobRecord
from rag.settings import Settings

T = TypeVar("T")


class JobLedger(Protocol):
    def insert(
        self, job: JobRecord, batches: Sequence[Sequence[str]], outcomes: Sequence[FileResult]
    ) -> None:
        """Store a new job with the files of each batch and the results known already."""
        ...

    def load(self, job_id: str) -> JobRecord | None: ...

    def update(self, job_id: str, change: Callable[[JobRecord], T]) -> T:
        """Apply ``change`` to the stored record atomically and save it; return its result.

        Raises :class:`~rag.errors.NotFoundError` for an unknown job."""
        ...

    def jobs(self, *, tenant: str | None = None, limit: int = 50) -> list[JobRecord]:
        """Newest first."""
        ...

    def batch_paths(self, job_id: str, index: int) -> list[str]: ...

    def set_inflight(self, job_id: str, index: int, paths: Collection[str]) -> None:
        """The files a runner has begun and not finished (blamed if the runner dies)."""
        ...

    def inflight(self, job_id: str, index: int) -> set[str]: ...

    def put_result(self, job_id: str, result: FileResult) -> None:
        """Record (or replace) the result of one file, keyed by its path."""
        ...

    def results(self, job_id: str, paths: Sequence[str] | None = None) -> dict[str, FileResult]:
        """Results by path: all of them, or those of ``paths`` that exist."""
        ...

    def count_results(self, job_id: str) -> int: ...

    def add_units(self, job_id: str, modality: str, count: int) -> None:
        """Units written so far (progress and throughput; redone work counts again)."""
        ...

    def units(self, job_id: str) -> dict[str, int]: ...

    def close(self) -> None: ...


def open_ledger(settings: Settings) -> JobLedger:
    """Redis when a broker is configured, else SQLite under the data dir."""
    if settings.jobs.broker_url:
        from rag.jobs.ledger_redis import RedisLedger

        return RedisLedger(
            settings.jobs.broker_url,
            prefix=f"{settings.jobs.key_prefix}:jobs",
            retention_s=settings.jobs.retention_days * 86400,
            max_jobs=settings.jobs.max_jobs,
        )
    from rag.jobs.ledger_sqlite import SqliteLedger

    return SqliteLedger(
        settings.data_dir / "jobs.sqlite3",
        retention_s=settings.jobs.retention_days * 86400,
        max_jobs=settings.jobs.max_jobs,
    )
