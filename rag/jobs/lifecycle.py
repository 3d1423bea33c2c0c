"""Job state transitions: pure functions on a :class:`JobRecord`.

Ledgers apply them atomically (``ledger.update(job_id, change)``), so the rules live here
once for both the SQLite and the Redis ledger, and tests check them without either.

A batch is begun once per delivery. Finding it still ``running`` when a delivery begins
means the previous runner died in the middle (SIGKILL, out of memory, power): every file it
had in progress is charged one crash, and the batch now runs one file at a time, so that a
further death names exactly one file. A file charged ``poison_crashes`` times is a poison
file: it is reported failed and skipped, and the rest of its batch goes on.

Ownership: each delivery runs under its own owner token and holds a lease on the batch
(``lease_until``) that its heartbeat renews. A delivery that finds the batch ``running``
with a current lease is a redelivery while the owner is alive (a visibility timeout passed
during a slow file): it is told to wait, charges nothing and changes nothing. Only a
lapsed lease (or none) means the owner died. A runner whose lease was taken over learns it
at its next renewal or file boundary and stops; finishing or releasing a batch is
ignored unless it comes from the batch's current owner.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from rag.jobs.model import BatchRecord, BatchState, JobRecord, JobState


@dataclass(frozen=True)
class BatchStart:
    """What a runner needs to know when a delivery of a batch begins."""

    run: bool  # False: nothing to do (already done, or the job was cancelled)
    attempt: int = 0
    isolate: bool = False  # run file by file: an earlier delivery died in the middle
    exhausted: bool = False  # past max_attempts: fail the files that are left
    crashes: dict[str, int] = field(default_factory=dict)
    # run is False and the batch has a live owner: deliver again in this many seconds
    wait_s: float | None = None
    owner: str | None = None  # the live owner a waiting delivery defers to


def begin_batch(
    job: JobRecord,
    index: int,
    *,
    owner: str,
    inflight: Collection[str],
    now: float,
    max_attempts: int,
    lease_s: float | None = None,
    exclusive: bool = False,
) -> BatchStart:
    """Begin a delivery of batch ``index`` as ``owner``. ``lease_s``: the lease this
    delivery takes (None: none, for callers without a heartbeat). ``exclusive``: the caller
    knows no other runner can be alive (the local executor holds the runner lock), so a
    current lease is a dead runner's."""
    batch = job.batches[index]
    if batch.state.terminal or job.state.terminal:
        return BatchStart(run=False)
    if batch.state is BatchState.RUNNING and not exclusive and lease_live(batch, now):
        # the owner is alive; after a cancel too, it stops at its next file and ends the
        # batch itself, so the job turns cancelled only once it has stopped
        assert batch.lease_until is not None
        return BatchStart(run=False, wait_s=batch.lease_until - now, owner=batch.owner)
    if job.cancel_requested:
        batch.state = BatchState.CANCELLED
        settle(job, now)
        return BatchStart(run=False)
    if batch.state is BatchState.RUNNING:
        for path in inflight:
            batch.crashes[path] = batch.crashes.get(path, 0) + 1
    batch.attempts += 1
    batch.state = BatchState.RUNNING
    batch.owner = owner
    batch.lease_until = now + lease_s if lease_s is not None else None
    if job.state is JobState.QUEUED:
        job.state = JobState.RUNNING
        job.started_at = now
    return BatchStart(
        run=True,
        attempt=batch.attempts,
        isolate=batch.attempts > 1 and bool(batch.crashes),
        exhausted=batch.attempts > max_attempts,
        crashes=dict(batch.crashes),
    )


def lease_live(batch: BatchRecord, now: float) -> bool:
    return batch.lease_until is not None and batch.lease_until > now


def renew_lease(job: JobRecord, index: int, *, owner: str, now: float, lease_s: float) -> bool:
    """The owner's heartbeat. False: the batch is no longer this owner's (taken over after
    its lease lapsed, finished, or cancelled): stop."""
    batch = job.batches[index]
    if batch.state is not BatchState.RUNNING or batch.owner != owner:
        return False
    batch.lease_until = now + lease_s
    return True


def _not_owner(batch: BatchRecord, owner: str | None) -> bool:
    return owner is not None and batch.owner != owner


def release_batch(
    job: JobRecord, index: int, *, error: str | None, now: float, owner: str | None = None
) -> None:
    """The runner stopped on purpose (shutdown) or on an error it will retry: put the batch
    back without charging its files a crash. ``owner``: ignored unless it owns the batch."""
    batch = job.batches[index]
    if batch.state is BatchState.RUNNING and not _not_owner(batch, owner):
        batch.state = BatchState.PENDING
        batch.lease_until = None
        batch.error = error
        if job.cancel_requested:
            batch.state = BatchState.CANCELLED
            settle(job, now)


def finish_batch(
    job: JobRecord,
    index: int,
    *,
    state: BatchState,
    failed: int,
    now: float,
    owner: str | None = None,
) -> bool:
    """Record the end of a batch; False (and nothing changed) when it is not ``owner``'s."""
    batch = job.batches[index]
    if batch.state.terminal:
        return False  # a duplicate delivery finished second
    if _not_owner(batch, owner):
        return False  # taken over: the new owner finishes it
    batch.state = state
    batch.lease_until = None
    batch.failed = failed
    batch.error = None
    settle(job, now)
    return True


def request_cancel(job: JobRecord, *, now: float, orphaned: bool = False) -> None:
    """Pending batches are cancelled now; running ones stop at their next file. With
    ``orphaned`` (no runner can be alive: the local executor's lock was free), running
    batches are cancelled too."""
    if job.state.terminal:
        return
    job.cancel_requested = True
    for batch in job.batches:
        if batch.state is BatchState.PENDING or (orphaned and batch.state is BatchState.RUNNING):
            batch.state = BatchState.CANCELLED
    settle(job, now)


def fail_job(job: JobRecord, *, error: str, now: float) -> None:
    """The job could not be run at all (for instance its batches could not be queued)."""
    if job.state.terminal:
        return
    job.error = error
    for batch in job.batches:
        if not batch.state.terminal:
            batch.state = BatchState.CANCELLED
    job.state = JobState.FAILED
    job.finished_at = now


def settle(job: JobRecord, now: float) -> None:
    """Give the job its final state once every batch is done or cancelled."""
    if job.state.terminal or not all(b.state.terminal for b in job.batches):
        return
    failed = job.planned_failed + sum(b.failed for b in job.batches)
    if job.cancel_requested and any(b.state is BatchState.CANCELLED for b in job.batches):
        job.state = JobState.CANCELLED
    elif failed:
        job.state = JobState.FAILED
    else:
        job.state = JobState.SUCCEEDED
    job.finished_at = now
    if job.started_at is None:
        job.started_at = job.finished_at


def next_runnable(job: JobRecord) -> int | None:
    """The first batch a local executor should run (pending, or running with a dead owner:
    one executor per ledger, so any ``running`` batch it did not begin is orphaned)."""
    if job.state.terminal:
        return None
    for index, batch in enumerate(job.batches):
        if batch.state in (BatchState.PENDING, BatchState.RUNNING):
            return index
    return None
