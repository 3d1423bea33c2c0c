"""Running one batch of a job: the plain function behind the Celery task and the local
executor (tests call it directly).

Why a delivery can be repeated without losing or duplicating anything:

- point ids are deterministic and the indexer writes a source ``pending`` and flips it
  ``live`` only once all of it is in, so re-running a file rewrites the same points and a
  runner that died mid-file leaves nothing visible;
- every file of the batch goes through the indexer again on a redelivery (an unchanged file
  costs a hash and two store reads, no model), so the store, not the ledger, says what is
  done; a result already recorded as ``indexed`` stays ``indexed``;
- the ledger knows which files were in progress when a runner died, and charges them
  (see :mod:`rag.jobs.lifecycle`), so a file that kills its runner fails alone;
- a delivery owns its batch under a lease its heartbeat renews: a redelivery that finds the
  lease current (the owner is alive, only slow) waits instead of running the batch a second
  time, and charges nothing; a runner that lost its lease stops at its next file and rolls
  back only the points it wrote and never made live (see :mod:`indexers.pipeline`).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from indexers.discovery import modality_for
from indexers.report import FileResult, FileStatus
from indexers.sources import source_uri
from rag.errors import MmragError
from rag.jobs import lifecycle
from rag.jobs.ledger import JobLedger
from rag.jobs.model import BatchState, JobRecord
from rag.models import ModelRegistry
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import Filter, MatchValue, VectorStore
from rag.store.collections import Field, collection_name
from rag.types import Modality, UnitState

logger = logging.getLogger(__name__)

# The reason the indexer gives the files it rolls back when a run stops on an exception
# (Indexer._abort_unfinished): not a verdict on those files, which simply stay unfinished.
ROLLBACK_REASON = "interrupted"


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class JobContext:
    """What running batches needs: built once per process (worker, API, CLI)."""

    settings: Settings
    models: ModelRegistry
    store: VectorStore
    ledger: JobLedger
    owner: str = field(default_factory=default_owner)
    # The API shares its lock with POST /v1/index: the two never write at the same time.
    index_lock: threading.Lock | None = None
    # Set when the process shuts down: the batch stops at its next file and is put back.
    stopping: threading.Event = field(default_factory=threading.Event)


class BatchOutcome(enum.StrEnum):
    SKIPPED = "skipped"  # nothing to do: done already, or its job was cancelled
    DONE = "done"
    CANCELLED = "cancelled"  # stopped at a file boundary because the job was cancelled
    RELEASED = "released"  # stopped because the process is shutting down; put back
    RETRY = "retry"  # failed on an error that may pass (the store); put back
    WAIT = "wait"  # another runner owns the batch and is alive: deliver again later
    LOST = "lost"  # this runner's lease lapsed and another took over: it finishes the batch


@dataclass(frozen=True)
class BatchReport:
    outcome: BatchOutcome
    attempt: int = 0
    files: int = 0
    failed: int = 0
    error: str | None = None
    wait_s: float | None = None  # WAIT: when to try again


class _CancelRequestedError(Exception):
    pass


class _OwnershipLostError(Exception):
    pass


class _Heartbeat:
    """Renews the batch's lease every third of it, in a thread; notes when it is lost."""

    def __init__(self, ctx: JobContext, job_id: str, index: int, owner: str) -> None:
        self._ctx, self._job_id, self._index, self.owner = ctx, job_id, index, owner
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"mmrag-lease-{job_id[:8]}-{index}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        lease_s = self._ctx.settings.jobs.lease_s
        while not self._stop.wait(lease_s / 3):
            try:
                held = self._ctx.ledger.update(
                    self._job_id,
                    lambda job: lifecycle.renew_lease(
                        job, self._index, owner=self.owner, now=time.time(), lease_s=lease_s
                    ),
                )
            except MmragError as exc:
                job, index = self._job_id, self._index
                logger.warning("job %s batch %d: lease not renewed: %s", job, index, exc.detail)
                continue
            if not held:
                self.lost.set()
                return


class _ShuttingDownError(Exception):
    pass


def run_batch(ctx: JobContext, job_id: str, index: int, *, exclusive: bool = False) -> BatchReport:
    """Run (or re-run) batch ``index`` of job ``job_id``; safe to call for any delivery.

    ``exclusive``: no other runner can be alive (the caller holds the data dir's runner
    lock), so a batch found running is taken over whatever its lease says."""
    owner = f"{ctx.owner}:{uuid.uuid4().hex[:8]}"  # this delivery, not just this process
    ledger, limits = ctx.ledger, ctx.settings.jobs
    was_inflight = ledger.inflight(job_id, index)
    started = ledger.update(
        job_id,
        lambda job: (
            lifecycle.begin_batch(
                job,
                index,
                owner=owner,
                inflight=was_inflight,
                now=time.time(),
                max_attempts=limits.max_attempts,
                lease_s=limits.lease_s,
                exclusive=exclusive,
            ),
            job,
        ),
    )
    start, job = started
    if not start.run:
        if start.wait_s is not None:
            logger.info(
                "job %s batch %d: owned by %s, alive (lease for %.1f s more): waiting",
                job_id,
                index,
                start.owner,
                start.wait_s,
            )
            return BatchReport(BatchOutcome.WAIT, wait_s=start.wait_s)
        return BatchReport(BatchOutcome.SKIPPED)
    with _Heartbeat(ctx, job_id, index, owner) as heartbeat:
        return _run_owned(ctx, job, index, start, heartbeat)


def _run_owned(
    ctx: JobContext, job: JobRecord, index: int, start: lifecycle.BatchStart, heartbeat: _Heartbeat
) -> BatchReport:
    ledger, limits, job_id, owner = ctx.ledger, ctx.settings.jobs, job.id, heartbeat.owner
    ledger.set_inflight(job_id, index, ())
    paths = ledger.batch_paths(job_id, index)
    prior = ledger.results(job_id, paths)
    if start.attempt > 1:
        logger.warning(
            "job %s batch %d: delivery %d%s",
            job_id,
            index,
            start.attempt,
            " (a runner died in it: running file by file)" if start.isolate else "",
        )
    listener = _BatchListener(
        ctx, job, index, prior, suspects=set(start.crashes), heartbeat=heartbeat
    )
    todo = [p for p in paths if not _final_failure(prior.get(p))]
    for path in [p for p in todo if start.crashes.get(p, 0) >= limits.poison_crashes]:
        todo.remove(path)
        if path in prior:  # indexed by an earlier delivery: keep that, do not go back to it
            _drop_pending(ctx, job, path)
        else:
            _fail_poison(ctx, job, path, start.crashes[path], listener)
    if start.exhausted:
        reason = (
            f"not indexed: its batch was delivered {limits.max_attempts} times without finishing"
        )
        _fail_unfinished(listener, todo, reason)
        return _finish(ctx, job_id, index, BatchState.DONE, listener, start.attempt, owner)

    settings = _job_settings(ctx.settings, job.collection_prefix)
    groups = [[p] for p in todo] if start.isolate else [todo]
    try:
        for group in groups:
            if not group:
                continue
            with ctx.index_lock or contextlib.nullcontext():
                # The job's settings (its collection prefix) on the process's models and store.
                runtime = Runtime(settings, models=ctx.models, store=ctx.store)
                indexer = runtime.indexer(listener=listener)
                indexer.index_paths([Path(p) for p in group], tenant=job.tenant, recursive=False)
    except _OwnershipLostError:
        logger.warning(
            "job %s batch %d: another runner took the batch over (this one's lease lapsed); "
            "stopped, its unfinished files rolled back",
            job_id,
            index,
        )
        return BatchReport(BatchOutcome.LOST, start.attempt)
    except _CancelRequestedError:
        ledger.set_inflight(job_id, index, ())
        return _finish(ctx, job_id, index, BatchState.CANCELLED, listener, start.attempt, owner)
    except _ShuttingDownError:
        ledger.set_inflight(job_id, index, ())
        ledger.update(
            job_id,
            lambda j: lifecycle.release_batch(j, index, error=None, now=time.time(), owner=owner),
        )
        return BatchReport(BatchOutcome.RELEASED, start.attempt)
    except Exception as exc:
        detail = exc.detail if isinstance(exc, MmragError) else f"{type(exc).__name__}: {exc}"
        logger.exception("job %s batch %d failed (delivery %d)", job_id, index, start.attempt)
        ledger.set_inflight(job_id, index, ())
        if start.attempt >= limits.max_attempts:
            _fail_unfinished(listener, todo, f"not indexed: {detail}")
            return _finish(ctx, job_id, index, BatchState.DONE, listener, start.attempt, owner)
        ledger.update(
            job_id,
            lambda j: lifecycle.release_batch(j, index, error=detail, now=time.time(), owner=owner),
        )
        return BatchReport(BatchOutcome.RETRY, start.attempt, error=detail)
    ledger.set_inflight(job_id, index, ())
    return _finish(ctx, job_id, index, BatchState.DONE, listener, start.attempt, owner)


def _finish(
    ctx: JobContext,
    job_id: str,
    index: int,
    state: BatchState,
    listener: _BatchListener,
    attempt: int,
    owner: str,
) -> BatchReport:
    failed = listener.failed_count()
    finished = ctx.ledger.update(
        job_id,
        lambda j: lifecycle.finish_batch(
            j, index, state=state, failed=failed, now=time.time(), owner=owner
        ),
    )
    if not finished and listener.lost():
        return BatchReport(BatchOutcome.LOST, attempt)
    outcome = BatchOutcome.CANCELLED if state is BatchState.CANCELLED else BatchOutcome.DONE
    return BatchReport(outcome, attempt, files=len(listener.results), failed=failed)


def _final_failure(result: FileResult | None) -> bool:
    """Failed or skipped files are not retried: no point of theirs is in the store."""
    return result is not None and result.status in (FileStatus.FAILED, FileStatus.SKIPPED)


def _fail_poison(
    ctx: JobContext, job: JobRecord, path: str, crashes: int, listener: _BatchListener
) -> None:
    logger.error("job %s: %s killed its runner %d times; failing it", job.id, path, crashes)
    modality = modality_for(path)
    listener.record(
        FileResult(
            path,
            modality,
            FileStatus.FAILED,
            reason=(
                f"the worker died {crashes} times while indexing this file (crash, kill or "
                "out of memory): skipped as a poison file"
            ),
        )
    )
    _drop_pending(ctx, job, path)


def _drop_pending(ctx: JobContext, job: JobRecord, path: str) -> None:
    """A dead runner may have left the file's points ``pending`` (invisible): remove them."""
    modality = modality_for(path)
    if modality is None:
        return
    name = collection_name(job.collection_prefix, modality)
    if not ctx.store.collection_exists(name):
        return
    ctx.store.delete_where(
        name,
        Filter(
            must=(
                MatchValue(Field.TENANT, job.tenant),
                MatchValue(Field.SOURCE, source_uri(Path(path))),
                MatchValue(Field.STATE, UnitState.PENDING.value),
            )
        ),
    )


def _fail_unfinished(listener: _BatchListener, paths: list[str], reason: str) -> None:
    for path in paths:
        if path not in listener.results:
            listener.record(FileResult(path, modality_for(path), FileStatus.FAILED, reason=reason))


def _job_settings(settings: Settings, prefix: str) -> Settings:
    if prefix == settings.store.collection_prefix:
        return settings
    store = settings.store.model_copy(update={"collection_prefix": prefix})
    return settings.model_copy(update={"store": store})


class _BatchListener:
    """Records each file's result as it finishes, tracks the files in progress, and stops
    the run at a file boundary when the job is cancelled or the process shuts down."""

    def __init__(
        self,
        ctx: JobContext,
        job: JobRecord,
        index: int,
        prior: dict[str, FileResult],
        *,
        suspects: set[str],
        heartbeat: _Heartbeat,
    ) -> None:
        self._ctx = ctx
        self._heartbeat = heartbeat
        self._job = job
        self._job_id = job.id
        self._index = index
        self._suspects = suspects
        self._inflight: set[str] = set()
        self.results: dict[str, FileResult] = dict(prior)

    def failed_count(self) -> int:
        return sum(1 for r in self.results.values() if r.status is FileStatus.FAILED)

    def record(self, result: FileResult) -> None:
        result = self._indexed_by_this_job(result)
        previous = self.results.get(result.path)
        if (
            previous is not None
            and previous.status is FileStatus.INDEXED
            and result.status is FileStatus.UNCHANGED
        ):
            return  # a redelivery found what an earlier one indexed: still "indexed"
        self.results[result.path] = result
        self._ctx.ledger.put_result(self._job_id, result)

    def _indexed_by_this_job(self, result: FileResult) -> FileResult:
        """A runner that died after a file turned live but before its result was recorded
        leaves it "unchanged" to the next delivery; its points' ``indexed_at`` tells."""
        since = self._job.started_at
        if (
            result.status is not FileStatus.UNCHANGED
            or result.path not in self._suspects
            or result.modality is None
            or result.source is None
            or since is None
        ):
            return result
        name = collection_name(self._job.collection_prefix, result.modality)
        where = Filter(
            must=(
                MatchValue(Field.TENANT, self._job.tenant),
                MatchValue(Field.SOURCE, result.source),
            )
        )
        hits, _ = self._ctx.store.scroll(name, where, limit=1)
        if not hits:
            return result
        payload = hits[0].payload
        try:
            indexed_at = datetime.fromisoformat(str(payload.get(Field.INDEXED_AT))).timestamp()
        except ValueError:
            return result
        # indexed_at is truncated to the second, hence the floor
        if indexed_at < math.floor(since):
            return result
        units = payload.get(Field.UNIT_COUNT)
        return replace(
            result, status=FileStatus.INDEXED, units=units if isinstance(units, int) else 0
        )

    def lost(self) -> bool:
        """This runner no longer owns the batch (its lease lapsed and another took over)."""
        if self._heartbeat.lost.is_set():
            return True
        job = self._ctx.ledger.load(self._job_id)
        batch = job.batches[self._index] if job is not None else None
        return batch is not None and batch.owner != self._heartbeat.owner

    def _check(self) -> None:
        if self._ctx.stopping.is_set():
            raise _ShuttingDownError
        if self._heartbeat.lost.is_set():
            raise _OwnershipLostError
        job = self._ctx.ledger.load(self._job_id)
        if job is None or job.cancel_requested:
            raise _CancelRequestedError
        if job.batches[self._index].owner != self._heartbeat.owner:
            raise _OwnershipLostError

    # -- ProgressListener ---------------------------------------------------------------------
    def run_started(self, total_files: int) -> None:
        return None

    def file_discovered(self, path: str) -> None:
        self._check()
        self._inflight.add(path)
        self._ctx.ledger.set_inflight(self._job_id, self._index, self._inflight)

    def file_writing(self, path: str) -> None:
        """A file read ahead is about to write: a stop or cancel since it was discovered
        stops the batch here (indexers.report.WriteListener)."""
        self._check()

    def file_finished(self, result: FileResult) -> None:
        if result.status is FileStatus.FAILED and result.reason == ROLLBACK_REASON:
            return
        self._inflight.discard(result.path)
        if not self._heartbeat.lost.is_set():  # the new owner's in-progress files now
            self._ctx.ledger.set_inflight(self._job_id, self._index, self._inflight)
        self.record(result)

    def units_written(self, modality: Modality, count: int) -> None:
        self._ctx.ledger.add_units(self._job_id, modality.value, count)
