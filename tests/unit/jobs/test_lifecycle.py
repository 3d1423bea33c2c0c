"""Job state transitions, without any ledger."""

from __future__ import annotations

from rag.jobs import lifecycle
from rag.jobs.model import BatchRecord, BatchState, JobRecord, JobRequest, JobState


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


def _begin(job: JobRecord, index: int, inflight: set[str] | None = None) -> lifecycle.BatchStart:
    return lifecycle.begin_batch(
        job, index, owner="host:1", inflight=inflight or set(), now=200.0, max_attempts=3
    )


def _state(job: JobRecord) -> JobState:
    return job.state  # read through a call: mypy must not narrow the state across steps


def test_a_job_runs_its_batches_and_succeeds() -> None:
    job = _job(2, 1)
    start = _begin(job, 0)
    assert start.run
    assert start.attempt == 1
    assert not start.isolate
    assert job.state is JobState.RUNNING
    assert job.started_at == 200.0
    lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=210.0)
    assert _state(job) is JobState.RUNNING
    _begin(job, 1)
    lifecycle.finish_batch(job, 1, state=BatchState.DONE, failed=0, now=220.0)
    assert _state(job) is JobState.SUCCEEDED
    assert job.finished_at == 220.0


def test_failed_files_make_the_job_failed() -> None:
    job = _job(2)
    _begin(job, 0)
    lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=1, now=210.0)
    assert job.state is JobState.FAILED


def test_planning_failures_count_too() -> None:
    job = _job()
    job.planned_outcomes = job.planned_failed = 1
    lifecycle.settle(job, 150.0)
    assert job.state is JobState.FAILED
    assert job.started_at == job.finished_at == 150.0


def test_an_empty_job_succeeds_at_once() -> None:
    job = _job()
    lifecycle.settle(job, 150.0)
    assert job.state is JobState.SUCCEEDED


def test_a_repeated_delivery_of_a_finished_batch_does_nothing() -> None:
    job = _job(1, 1)
    _begin(job, 0)
    lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=210.0)
    assert not _begin(job, 0).run
    lifecycle.finish_batch(job, 0, state=BatchState.CANCELLED, failed=5, now=230.0)
    assert job.batches[0].state is BatchState.DONE
    assert job.batches[0].failed == 0


def test_a_runner_death_charges_the_files_in_progress_and_isolates_the_batch() -> None:
    job = _job(3)
    _begin(job, 0)  # the runner dies with b and c in progress
    start = _begin(job, 0, inflight={"/b", "/c"})
    assert start.attempt == 2
    assert start.isolate
    assert start.crashes == {"/b": 1, "/c": 1}
    start = _begin(job, 0, inflight={"/c"})  # file by file now: c alone kills it
    assert start.crashes == {"/b": 1, "/c": 2}


def test_a_released_batch_is_not_a_crash() -> None:
    job = _job(3)
    _begin(job, 0)
    lifecycle.release_batch(job, 0, error="store unavailable", now=205.0)
    assert job.batches[0].state is BatchState.PENDING
    assert job.batches[0].error == "store unavailable"
    start = _begin(job, 0, inflight={"/b"})  # stale in-flight data is ignored: no crash
    assert start.attempt == 2
    assert not start.isolate
    assert start.crashes == {}


def test_deliveries_past_the_limit_are_exhausted() -> None:
    job = _job(1)
    for attempt in (1, 2, 3):
        assert not _begin(job, 0).exhausted, attempt
    assert _begin(job, 0).exhausted


def test_cancel_drops_pending_batches_and_waits_for_running_ones() -> None:
    job = _job(1, 1, 1)
    _begin(job, 0)
    lifecycle.request_cancel(job, now=205.0)
    assert job.cancel_requested
    assert [b.state for b in job.batches] == [
        BatchState.RUNNING,
        BatchState.CANCELLED,
        BatchState.CANCELLED,
    ]
    assert _state(job) is JobState.RUNNING, "a batch is still running"
    lifecycle.finish_batch(job, 0, state=BatchState.CANCELLED, failed=0, now=207.0)
    assert _state(job) is JobState.CANCELLED
    assert job.finished_at == 207.0


def test_cancel_of_a_queued_job_is_immediate() -> None:
    job = _job(1, 1)
    lifecycle.request_cancel(job, now=205.0)
    assert job.state is JobState.CANCELLED
    assert not _begin(job, 0).run


def test_a_delivery_after_cancel_cancels_its_batch() -> None:
    job = _job(1, 1)
    _begin(job, 0)
    job.cancel_requested = True  # requested while batch 0 ran; its runner then died
    assert not _begin(job, 0).run
    lifecycle.request_cancel(job, now=206.0)
    assert job.state is JobState.CANCELLED


def test_cancel_with_no_runner_alive_cancels_running_batches_too() -> None:
    job = _job(1, 1)
    _begin(job, 0)
    lifecycle.request_cancel(job, now=205.0, orphaned=True)
    assert job.state is JobState.CANCELLED


def test_cancel_after_the_end_changes_nothing() -> None:
    job = _job(1)
    _begin(job, 0)
    lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=210.0)
    lifecycle.request_cancel(job, now=220.0)
    assert job.state is JobState.SUCCEEDED
    assert not job.cancel_requested


def test_release_after_cancel_cancels_the_batch() -> None:
    job = _job(1)
    _begin(job, 0)
    job.cancel_requested = True
    lifecycle.release_batch(job, 0, error=None, now=210.0)
    assert job.state is JobState.CANCELLED


def test_fail_job() -> None:
    job = _job(1, 1)
    lifecycle.fail_job(job, error="broker down", now=150.0)
    assert job.state is JobState.FAILED
    assert job.error == "broker down"
    assert all(b.state is BatchState.CANCELLED for b in job.batches)


def test_next_runnable_resumes_orphaned_batches_first() -> None:
    job = _job(1, 1, 1)
    assert lifecycle.next_runnable(job) == 0
    _begin(job, 0)
    assert lifecycle.next_runnable(job) == 0, "a running batch found by an executor is orphaned"
    lifecycle.finish_batch(job, 0, state=BatchState.DONE, failed=0, now=210.0)
    assert lifecycle.next_runnable(job) == 1


def test_record_round_trips_through_json() -> None:
    job = _job(2, 1)
    _begin(job, 0, inflight=set())
    job.batches[0].crashes = {"/a": 1}
    assert JobRecord.from_json(job.to_json()) == job
