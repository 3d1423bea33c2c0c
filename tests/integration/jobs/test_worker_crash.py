"""Workers stopped (SIGTERM) and killed (SIGKILL) in the middle of a job: other workers
finish it, and the store holds exactly the points plain `mmrag index` writes for the same
files (none missing, none duplicated, none left pending)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.jobs import JobRequest, JobState, client_service
from rag.jobs.model import BatchState
from rag.store.edge import EmbeddedStore
from tests.integration.jobs.conftest import (
    Process,
    Reference,
    redis_env,
    settings_from,
    store_points,
    wait_until,
)


def test_stopped_and_sigkilled_workers_lose_and_duplicate_nothing(
    jobs_corpus: Path,
    reference: Reference,
    redis_prefix: str,
    processes: Callable[..., Process],
    tmp_path: Path,
) -> None:
    env = redis_env(tmp_path / "data", redis_prefix)
    settings = settings_from(env)
    service = client_service(settings)

    def mid_batch(after: int) -> Callable[[], int | None]:
        """More than ``after`` files done, and a runner with files in progress right now:
        the index of its batch."""

        def check() -> int | None:
            current = service.get(job.id)
            running = [i for i, b in enumerate(current.batches) if b.state is BatchState.RUNNING]
            if (
                service.ledger.count_results(job.id) > after
                and running
                and service.ledger.inflight(job.id, running[0])
            ):
                return running[0]
            return None

        return check

    first = processes(["worker"], env, tmp_path / "worker-1.log")
    first.wait_for(" ready.")
    job = service.submit(JobRequest((str(jobs_corpus),)), tenant="default")
    assert len(job.batches) == 4

    # 1. SIGTERM mid-batch: a warm shutdown hands the batch back, blaming no file
    released = wait_until(mid_batch(0), 180, "a batch in progress", interval=0.02)
    assert first.stop() == 0, first.output()[-3000:]
    after_stop = service.get(job.id)
    assert after_stop.batches[released].state is BatchState.PENDING
    assert after_stop.batches[released].crashes == {}
    done_before_kill = service.ledger.count_results(job.id)

    # 2. SIGKILL mid-batch: no ack, no cleanup; the store lock dies with the process
    second = processes(["worker"], env, tmp_path / "worker-2.log")
    second.wait_for(" ready.")
    killed_batch = wait_until(
        mid_batch(done_before_kill), 180, "the next batch in progress", interval=0.02
    )
    second.kill()
    killed = service.get(job.id)
    assert not killed.state.terminal, "the job must not be finished when the worker dies"
    assert killed.batches[killed_batch].state is BatchState.RUNNING

    # 3. a third worker gets the killed batch back after the visibility timeout
    third = processes(["worker"], env, tmp_path / "worker-3.log")
    third.wait_for(" ready.")
    done = wait_until(
        lambda: (j := service.get(job.id)).state.terminal and j, 180, "the job to finish"
    )
    assert third.stop() == 0, third.output()[-3000:]

    assert done.state is JobState.SUCCEEDED, service.view(done).model_dump_json(indent=2)
    assert done.batches[released].attempts >= 2, "the handed-back batch ran again"
    batch = done.batches[killed_batch]
    assert batch.attempts >= 2, "the killed batch was delivered again"
    assert batch.crashes, "its in-progress files were charged the crash"
    assert all(b.state is BatchState.DONE for b in done.batches)
    summary = service.view(done).summary
    service.close()
    assert summary is not None
    assert summary["indexed"] == reference.summary["indexed"]
    assert summary["units"] == reference.summary["units"]
    assert summary["failed"] == []

    store = EmbeddedStore(settings.data_dir / "qdrant")
    ids, states = store_points(store)
    store.close()
    assert len(ids) == len(set(ids)), "a point id appears twice"
    assert set(ids) == reference.ids, {
        "missing": len(reference.ids - set(ids)),
        "extra": len(set(ids) - reference.ids),
    }
    assert states == {"live"}, "no pending leftovers of the killed attempt"
    assert "delivery 2" in third.output()
