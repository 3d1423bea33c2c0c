"""Job ledger in SQLite under the data dir: the embedded default, no server needed.

Each thread keeps its own connection (WAL mode, a busy timeout), so threads of the API and
other processes (``mmrag jobs status`` in another shell) can use it at the same time;
``update`` runs in a ``BEGIN IMMEDIATE`` transaction, which serialises writers. Connections
are kept open: closing the last one checkpoints the WAL, which made every call cost ~20 ms.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from indexers.report import FileResult
from rag.errors import NotFoundError
from rag.jobs.model import JobRecord, result_from_json, result_to_json

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created);
CREATE TABLE IF NOT EXISTS batches (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    paths TEXT NOT NULL,
    inflight TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL,
    path TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (job_id, path)
);
CREATE TABLE IF NOT EXISTS units (
    job_id TEXT NOT NULL,
    modality TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (job_id, modality)
);
"""
_CHUNK = 500  # paths per IN (...) query, well under SQLite's variable limit


class SqliteLedger:
    def __init__(
        self, path: Path, *, retention_s: float = 30 * 86400, max_jobs: int = 10_000
    ) -> None:
        self.path = path
        self.retention_s = retention_s
        self.max_jobs = max_jobs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []
        self._generation = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (a new one after a fork or after ``close``)."""
        key = (os.getpid(), self._generation)
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "key", None) != key:
            # check_same_thread=False only so that close() may close it; one thread uses it
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.key = db, key
            with self._lock:
                self._open.append(db)
        yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- jobs ------------------------------------------------------------------------------
    def insert(
        self, job: JobRecord, batches: Sequence[Sequence[str]], outcomes: Sequence[FileResult]
    ) -> None:
        with self._transaction() as db:
            self._purge(db)
            db.execute(
                "INSERT INTO jobs (id, tenant, created, finished, record) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.tenant, job.created_at, job.finished_at, job.to_json()),
            )
            db.executemany(
                "INSERT INTO batches (job_id, idx, paths) VALUES (?, ?, ?)",
                [(job.id, i, json.dumps(list(paths))) for i, paths in enumerate(batches)],
            )
            db.executemany(
                "INSERT OR REPLACE INTO results (job_id, path, result) VALUES (?, ?, ?)",
                [(job.id, r.path, result_to_json(r)) for r in outcomes],
            )

    def load(self, job_id: str) -> JobRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord.from_json(row[0]) if row else None

    def update(self, job_id: str, change: Callable[[JobRecord], T]) -> T:
        with self._transaction() as db:
            row = db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no job {job_id!r}", job=job_id)
            job = JobRecord.from_json(row[0])
            outcome = change(job)
            db.execute(
                "UPDATE jobs SET record = ?, finished = ? WHERE id = ?",
                (job.to_json(), job.finished_at if job.state.terminal else None, job_id),
            )
        return outcome

    def jobs(self, *, tenant: str | None = None, limit: int = 50) -> list[JobRecord]:
        query = "SELECT record FROM jobs"
        args: tuple[object, ...] = ()
        if tenant is not None:
            query += " WHERE tenant = ?"
            args = (tenant,)
        query += " ORDER BY created DESC, id LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, (*args, limit)).fetchall()
        return [JobRecord.from_json(r[0]) for r in rows]

    def unfinished(self) -> list[JobRecord]:
        """Jobs not yet finished, oldest first (the local executor's work list)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT record FROM jobs WHERE finished IS NULL ORDER BY created, id"
            ).fetchall()
        jobs = [JobRecord.from_json(r[0]) for r in rows]
        return [job for job in jobs if not job.state.terminal]

    def _purge(self, db: sqlite3.Connection) -> None:
        """Finished jobs past retention go, and beyond ``max_jobs`` (counting the one being
        inserted) the oldest finished ones; unfinished jobs are never purged."""
        cutoff = time.time() - self.retention_s
        old = [r[0] for r in db.execute("SELECT id FROM jobs WHERE finished < ?", (cutoff,))]
        (total,) = db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        excess = int(total) - len(old) + 1 - self.max_jobs
        if excess > 0:
            old += [
                r[0]
                for r in db.execute(
                    "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished >= ? "
                    "ORDER BY created, id LIMIT ?",
                    (cutoff, excess),
                )
            ]
        for table in ("batches", "results", "units"):
            db.executemany(f"DELETE FROM {table} WHERE job_id = ?", [(i,) for i in old])  # noqa: S608
        db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in old])

    # -- batches ---------------------------------------------------------------------------
    def batch_paths(self, job_id: str, index: int) -> list[str]:
        with self._connect() as db:
            row = db.execute(
                "SELECT paths FROM batches WHERE job_id = ? AND idx = ?", (job_id, index)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"job {job_id!r} has no batch {index}", job=job_id)
        paths: list[str] = json.loads(row[0])
        return paths

    def set_inflight(self, job_id: str, index: int, paths: Collection[str]) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE batches SET inflight = ? WHERE job_id = ? AND idx = ?",
                (json.dumps(sorted(paths)), job_id, index),
            )

    def inflight(self, job_id: str, index: int) -> set[str]:
        with self._connect() as db:
            row = db.execute(
                "SELECT inflight FROM batches WHERE job_id = ? AND idx = ?", (job_id, index)
            ).fetchone()
        return set(json.loads(row[0])) if row else set()

    # -- results and units -----------------------------------------------------------------
    def put_result(self, job_id: str, result: FileResult) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO results (job_id, path, result) VALUES (?, ?, ?)",
                (job_id, result.path, result_to_json(result)),
            )

    def results(self, job_id: str, paths: Sequence[str] | None = None) -> dict[str, FileResult]:
        with self._connect() as db:
            if paths is None:
                rows = db.execute(
                    "SELECT result FROM results WHERE job_id = ? ORDER BY rowid", (job_id,)
                ).fetchall()
            else:
                rows = []
                for start in range(0, len(paths), _CHUNK):
                    chunk = list(paths[start : start + _CHUNK])
                    marks = ",".join("?" * len(chunk))
                    rows += db.execute(
                        f"SELECT result FROM results WHERE job_id = ? AND path IN ({marks})",  # noqa: S608
                        (job_id, *chunk),
                    ).fetchall()
        found = [result_from_json(r[0]) for r in rows]
        return {r.path: r for r in found}

    def count_results(self, job_id: str) -> int:
        with self._connect() as db:
            row = db.execute("SELECT COUNT(*) FROM results WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def add_units(self, job_id: str, modality: str, count: int) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO units (job_id, modality, count) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id, modality) DO UPDATE SET count = count + excluded.count",
                (job_id, modality, count),
            )

    def units(self, job_id: str) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT modality, count FROM units WHERE job_id = ?", (job_id,)
            ).fetchall()
        return {str(m): int(c) for m, c in rows}

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
            self._generation += 1
        for db in connections:
            db.close()
