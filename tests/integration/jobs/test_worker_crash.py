"""A worker SIGKILLed in the middle of a job: another one finishes it, and the store holds
exactly the points plain `mmrag index` writes (none missing, none duplicated)."""

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


def test_sigkilled_worker_loses_and_duplicates_nothing(
    jobs_corpus: Path,
    reference: Reference,
    redis_prefix: str,
    processes: Callable[..., Process],
    tmp_path: Path,
) -> None:
    env = redis_env(tmp_path / "data", redis_prefix)
    settings = settings_from(env)
    first = processes(["worker"], env, tmp_path / "worker-1.log")
    first.wait_for(" ready.")

    service = client_service(settings)
    job = service.submit(JobRequest((str(jobs_corpus),)), tenant="default")
    assert len(job.batches) == 4

    def mid_batch() -> bool:
        """At least one file done, and a runner with files in progress right now."""
        current = service.get(job.id)
        running = [i for i, b in enumerate(current.batches) if b.state is BatchState.RUNNING]
        return bool(
            service.ledger.count_results(job.id) >= 1
            and running
            and service.ledger.inflight(job.id, running[0])
        )

    wait_until(mid_batch, 180, "the worker to be in the middle of a batch", interval=0.02)
    first.kill()  # SIGKILL: no ack, no cleanup, the store lock dies with the process
    killed = service.get(job.id)
    assert not killed.state.terminal, "the job must not be finished when the worker dies"
    interrupted = [i for i, b in enumerate(killed.batches) if b.state is BatchState.RUNNING]
    assert interrupted

    second = processes(["worker"], env, tmp_path / "worker-2.log")
    second.wait_for(" ready.")
    done = wait_until(
        lambda: (j := service.get(job.id)).state.terminal and j, 180, "the job to finish"
    )
    assert second.stop() == 0, second.output()[-3000:]

    assert done.state is JobState.SUCCEEDED, service.view(done).model_dump_json(indent=2)
    for index in interrupted:
        batch = done.batches[index]
        assert batch.attempts == 2, "the interrupted batch was delivered again"
        assert batch.crashes, "its in-progress files were charged the crash"
        assert batch.state is BatchState.DONE
    summary = service.view(done).summary
    service.close()
    assert summary is not None
    expected = dict(reference.summary)
    assert summary["indexed"] == expected["indexed"]
    assert summary["units"] == expected["units"]
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
    assert "delivery 2" in second.output()
