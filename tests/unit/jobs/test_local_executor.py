"""The embedded default: the process owning the store runs jobs in a thread."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.errors import BadInputError, NotFoundError
from rag.jobs import JobContext, JobRequest, JobService, JobState, lifecycle
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.local import LocalExecutor
from rag.jobs.model import BatchState
from rag.jobs.ownership import owner_lock
from rag.jobs.service import LocalDispatcher
from tests.unit.jobs.conftest import Fakes


def _wait(ledger: SqliteLedger, job_id: str, timeout: float = 60) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ledger.load(job_id)
        assert job is not None
        if job.state.terminal:
            return job.state
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


@pytest.fixture
def executor(context: JobContext, sqlite_ledger: SqliteLedger) -> LocalExecutor:
    return LocalExecutor(context, sqlite_ledger, poll_s=0.05, retry_s=0.05)


def _service(context: JobContext, executor: LocalExecutor | None) -> JobService:
    return JobService(context.settings, context.ledger, LocalDispatcher(context.settings, executor))


def test_submitted_jobs_run_oldest_first(
    context: JobContext, executor: LocalExecutor, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    service = _service(context, executor)
    first = service.submit(JobRequest((str(corpus / "a.png"),)), tenant="acme")
    second = service.submit(JobRequest((str(corpus),)), tenant="acme")
    executor.start()
    try:
        assert _wait(sqlite_ledger, second.id) is JobState.SUCCEEDED
        assert _wait(sqlite_ledger, first.id) is JobState.SUCCEEDED
    finally:
        executor.stop()
    one, two = sqlite_ledger.load(first.id), sqlite_ledger.load(second.id)
    assert one is not None
    assert two is not None
    assert (one.finished_at or 0) <= (two.started_at or 0)
    view = service.view(two)
    assert view.summary is not None
    assert view.summary["unchanged"]["image"] == 1, "a.png was indexed by the first job"
    assert view.summary["indexed"]["image"] == 4
    assert executor.error is None
    assert not executor.lock.held


def test_a_restarted_executor_resumes_an_interrupted_job(
    context: JobContext, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    service = _service(context, None)
    job = service.submit(JobRequest((str(corpus),)), tenant="default")
    # the previous owner died in batch 1 with d.png in progress
    sqlite_ledger.update(
        job.id,
        lambda j: lifecycle.begin_batch(j, 1, owner="dead:1", inflight=(), now=1.0, max_attempts=5),
    )
    sqlite_ledger.set_inflight(job.id, 1, {str(corpus / "d.png")})
    executor = LocalExecutor(context, sqlite_ledger, poll_s=0.05)
    executor.start()
    try:
        assert _wait(sqlite_ledger, job.id) is JobState.SUCCEEDED
    finally:
        executor.stop()
    done = sqlite_ledger.load(job.id)
    assert done is not None
    assert done.batches[1].attempts == 2
    assert done.batches[1].crashes == {str(corpus / "d.png"): 1}


def test_one_runner_per_data_dir(
    context: JobContext, executor: LocalExecutor, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    holder = owner_lock(context.settings.data_dir)
    assert holder.acquire()
    service = _service(context, executor)
    job = service.submit(JobRequest((str(corpus / "a.png"),)), tenant="default")
    executor.start()
    try:
        time.sleep(0.3)
        stored = sqlite_ledger.load(job.id)
        assert stored is not None
        assert stored.state is JobState.QUEUED, "the lock is held elsewhere: nothing runs"
        assert not service.dispatcher.runners_gone()
        holder.release()
        assert _wait(sqlite_ledger, job.id) is JobState.SUCCEEDED
    finally:
        executor.stop()
        holder.release()


def test_stop_hands_the_running_batch_back(
    context: JobContext,
    executor: LocalExecutor,
    sqlite_ledger: SqliteLedger,
    fakes: Fakes,
    corpus: Path,
) -> None:
    service = _service(context, executor)
    job = service.submit(JobRequest((str(corpus),)), tenant="default")
    fakes.on_image("b.png", context.stopping.set)  # as if the service were shutting down
    executor.start()
    assert executor.join(30)
    stored = sqlite_ledger.load(job.id)
    assert stored is not None
    assert stored.state is JobState.RUNNING
    assert stored.batches[0].state is BatchState.PENDING
    assert not executor.lock.held


def test_cancel_without_a_runner_is_immediate(
    context: JobContext, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    service = _service(context, None)
    job = service.submit(JobRequest((str(corpus),)), tenant="default")
    sqlite_ledger.update(
        job.id,
        lambda j: lifecycle.begin_batch(j, 0, owner="dead:1", inflight=(), now=1.0, max_attempts=5),
    )
    assert service.dispatcher.runners_gone()
    cancelled = service.cancel(job.id)
    assert cancelled.state is JobState.CANCELLED


def test_service_checks(context: JobContext, corpus: Path) -> None:
    service = _service(context, None)
    job = service.submit(JobRequest((str(corpus / "a.png"),)), tenant="acme")
    with pytest.raises(NotFoundError):
        service.get(job.id, tenant="globex")
    with pytest.raises(NotFoundError):
        service.cancel(job.id, tenant="globex")
    assert service.get(job.id, tenant="acme").id == job.id
    assert [j.id for j in service.list(tenant="acme", state=JobState.QUEUED)] == [job.id]
    assert service.list(tenant="acme", state=JobState.RUNNING) == []
    with pytest.raises(BadInputError, match="limit"):
        service.list(limit=0)
    with pytest.raises(BadInputError, match="tenant"):
        service.submit(JobRequest((str(corpus),)), tenant="../etc")
    with pytest.raises(BadInputError, match="collection prefix"):
        service.submit(JobRequest((str(corpus),), collection_prefix="Bad Prefix"), tenant="acme")


def test_a_job_with_nothing_to_do_finishes_at_once(context: JobContext, corpus: Path) -> None:
    service = _service(context, None)
    job = service.submit(JobRequest((str(corpus / "readme.docx"),)), tenant="default")
    assert job.state is JobState.FAILED
    view = service.view(job)
    assert view.summary is not None
    assert view.summary["failed"] == [
        {"path": str(corpus / "readme.docx"), "reason": "unsupported file type .docx"}
    ]
    empty = service.submit(JobRequest((str(corpus / "*.gif"),)), tenant="default")
    assert empty.state is JobState.FAILED
    folder = corpus / "empty"
    folder.mkdir()
    nothing = service.submit(JobRequest((str(folder),)), tenant="default")
    assert nothing.state is JobState.SUCCEEDED
