"""Batch ownership (issue 14): a redelivery while the owner is alive waits and charges
nothing; a lapsed lease is taken over; a runner that lost its batch stops and deletes only
what it wrote and never made live. Pure lifecycle rules first, then real threads running
``run_batch`` over the embedded store and the SQLite ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.jobs import JobContext, JobRequest, JobService, JobState, lifecycle, run_batch
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.local import LocalExecutor
from rag.jobs.model import BatchRecord, BatchState, JobRecord
from rag.jobs.runner import BatchOutcome, BatchReport
from rag.jobs.service import LocalDispatcher
from rag.settings import Settings
from rag.store.edge import EmbeddedStore
from tests.unit.jobs.conftest import Fakes


# -- the rules --------------------------------------------------------------------------------
def _job(*sizes: int) -> JobRecord:
    return JobRecord(
        id="j1",
        tenant="default",
        request=JobRequest(("/data",)),
        collection_prefix="mmrag",
        created_at=100.0,
        batches=[BatchRecord(size) for size in sizes],
        planned_files=sum(sizes),
    )


def _begin(
    job: JobRecord, owner: str, now: float, inflight: set[str] | None = None, **kw: Any
) -> lifecycle.BatchStart:
    return lifecycle.begin_batch(
        job, 0, owner=owner, inflight=inflight or set(), now=now, max_attempts=5, lease_s=30.0, **kw
    )


def test_a_redelivery_while_the_owner_is_alive_waits_and_charges_nothing() -> None:
    job = _job(3)
    assert _begin(job, "w1:a", now=200.0).run
    start = _begin(job, "w2:b", now=210.0, inflight={"/slow.mp3"})
    assert not start.run
    assert start.wait_s == 20.0
    assert start.owner == "w1:a"
    batch = job.batches[0]
    assert batch.crashes == {}, "a slow file is not a crash"
    assert batch.attempts == 1
    assert batch.owner == "w1:a"
    # the owner's heartbeat keeps it alive as long as it runs
    assert lifecycle.renew_lease(job, 0, owner="w1:a", now=225.0, lease_s=30.0)
    assert not _begin(job, "w2:c", now=250.0, inflight={"/slow.mp3"}).run
    assert lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=260.0, owner="w1:a")
    assert not _begin(job, "w2:d", now=261.0).run
    assert job.batches[0].attempts == 1
    assert job.state is JobState.SUCCEEDED


def test_a_lapsed_lease_is_taken_over_and_charged() -> None:
    job = _job(3)
    _begin(job, "w1:a", now=200.0)
    start = _begin(job, "w2:b", now=231.0, inflight={"/b"})  # no heartbeat for 31 s
    assert start.run
    assert start.attempt == 2
    assert start.crashes == {"/b": 1}
    assert job.batches[0].owner == "w2:b"
    assert job.batches[0].lease_until == 261.0
    # the old owner, if it was only stalled, learns it lost the batch and cannot end it
    assert not lifecycle.renew_lease(job, 0, owner="w1:a", now=232.0, lease_s=30.0)
    assert not lifecycle.finish_batch(
        job, 0, state=BatchState.DONE, failed=0, now=233.0, owner="w1:a"
    )
    lifecycle.release_batch(job, 0, error="x", now=233.0, owner="w1:a")
    assert job.batches[0].state is BatchState.RUNNING
    assert lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=240.0, owner="w2:b")


def test_a_redelivery_after_cancel_leaves_a_live_owner_to_stop_the_batch() -> None:
    job = _job(1, 1)
    _begin(job, "w1:a", now=200.0)
    lifecycle.request_cancel(job, now=201.0)
    assert job.batches[1].state is BatchState.CANCELLED
    start = _begin(job, "w2:b", now=202.0)
    assert not start.run
    assert start.wait_s is not None
    assert job.batches[0].state is BatchState.RUNNING, "its owner is still writing"
    assert not job.state.terminal
    lifecycle.finish_batch(job, 0, state=BatchState.CANCELLED, failed=0, now=205.0, owner="w1:a")
    assert job.state is JobState.CANCELLED


def test_exclusive_takes_over_a_current_lease() -> None:
    """The local executor holds the runner lock: whoever held the lease is dead."""
    job = _job(2)
    _begin(job, "dead:a", now=200.0)
    start = _begin(job, "exec:b", now=201.0, inflight={"/a"}, exclusive=True)
    assert start.run
    assert start.crashes == {"/a": 1}


def test_records_without_a_lease_read_as_dead_owners() -> None:
    job = _job(2)
    lifecycle.begin_batch(job, 0, owner="old", inflight=(), now=1.0, max_attempts=5)
    assert job.batches[0].lease_until is None
    assert _begin(job, "new", now=2.0).run
    assert JobRecord.from_json(job.to_json()).batches[0].lease_until == 32.0


# -- real runners in threads ------------------------------------------------------------------
def _submit(ctx: JobContext, *sources: Path) -> str:
    service = JobService(ctx.settings, ctx.ledger, LocalDispatcher(ctx.settings))
    return service.submit(JobRequest(tuple(str(s) for s in sources)), tenant="default").id


def _points(store: EmbeddedStore) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for modality in ("text", "image", "audio"):
        name = f"mmrag_{modality}"
        if store.collection_exists(name):
            points, _ = store.scroll(name, limit=10_000)
            out |= {p.id: p.payload for p in points}
    return out


def _once(hook: Callable[[], None]) -> Callable[[], None]:
    done: list[bool] = []

    def run() -> None:
        if not done:
            done.append(True)
            hook()

    return run


def _in_thread(call: Callable[[], BatchReport]) -> BatchReport:
    out: list[BatchReport] = []
    thread = threading.Thread(target=lambda: out.append(call()))
    thread.start()
    thread.join(60)
    assert out, "the other delivery did not return"
    return out[0]


def test_an_overlapping_delivery_of_a_slow_batch_waits(
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    store: EmbeddedStore,
    sqlite_ledger: SqliteLedger,
    corpus: Path,
) -> None:
    """The first runner is slow on b.png, longer than its lease: only its heartbeat keeps
    the batch. A second delivery meanwhile (a visibility timeout passed) waits."""
    settings = make_settings(jobs={"batch_files": 3, "lease_s": 1.0})
    ctx = JobContext(settings, fakes.registry(settings), store, sqlite_ledger, owner="w1")
    other = JobContext(settings, fakes.registry(settings), store, sqlite_ledger, owner="w2")
    job_id = _submit(ctx, corpus / "a.png", corpus / "b.png", corpus / "c.png")
    seen: list[BatchReport] = []

    def slow_then_redelivered() -> None:
        time.sleep(2.5)  # 2.5 leases: the heartbeat renewed it meanwhile
        seen.append(_in_thread(lambda: run_batch(other, job_id, 0)))

    fakes.on_image("b.png", _once(slow_then_redelivered))
    report = run_batch(ctx, job_id, 0)
    assert report.outcome is BatchOutcome.DONE
    (redelivery,) = seen
    assert redelivery.outcome is BatchOutcome.WAIT
    assert redelivery.wait_s is not None
    assert 0 < redelivery.wait_s <= 1.0
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.batches[0].attempts == 1
    assert job.batches[0].crashes == {}, "a slow healthy file is never charged a crash"
    assert {p["state"] for p in _points(store).values()} == {"live"}
    assert len(_points(store)) == 3
    # once the owner is done, the delayed redelivery finds nothing to do
    assert run_batch(other, job_id, 0).outcome is BatchOutcome.SKIPPED


def test_a_runner_that_lost_its_batch_stops_and_deletes_nothing_live(
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    store: EmbeddedStore,
    sqlite_ledger: SqliteLedger,
    corpus: Path,
) -> None:
    """The first runner stalls past its lease (no heartbeat: a paused process); a second
    delivery takes over and finishes the batch. When the first resumes, it stops at its
    next file, and its rollback leaves every live point of the second in place."""
    settings = make_settings(jobs={"batch_files": 5}, index={"batch_units": 1})
    ctx = JobContext(settings, fakes.registry(settings), store, sqlite_ledger, owner="w1")
    other = JobContext(settings, fakes.registry(settings), store, sqlite_ledger, owner="w2")
    job_id = _submit(ctx, *(corpus / n for n in ("a.png", "b.png", "c.png", "d.png")))
    taken: list[BatchReport] = []

    def stall_and_lose() -> None:
        def lapse(job: JobRecord) -> None:
            job.batches[0].lease_until = time.time() - 1  # as if paused past its lease

        sqlite_ledger.update(job_id, lapse)
        taken.append(_in_thread(lambda: run_batch(other, job_id, 0)))

    fakes.on_image("b.png", _once(stall_and_lose))
    report = run_batch(ctx, job_id, 0)
    assert report.outcome is BatchOutcome.LOST
    (takeover,) = taken
    assert takeover.outcome is BatchOutcome.DONE
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.batches[0].owner is not None
    assert job.batches[0].owner.startswith("w2:")
    points = _points(store)
    assert sorted(Path(p["source"]).name for p in points.values()) == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
    ]
    assert {p["state"] for p in points.values()} == {"live"}, "nothing rolled back or pending"


def test_a_restarted_executor_takes_over_a_current_lease(
    context: JobContext, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    """A service killed and restarted within the lease: the runner lock proves the old
    owner dead, so the executor does not wait for the lease to lapse."""
    job_id = _submit(context, corpus / "a.png")
    sqlite_ledger.update(
        job_id,
        lambda j: lifecycle.begin_batch(
            j, 0, owner="dead:1", inflight=(), now=time.time(), max_attempts=5, lease_s=3600
        ),
    )
    executor = LocalExecutor(context, sqlite_ledger, only_job=job_id, poll_s=0.05)
    executor.run()
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert executor.error is None
