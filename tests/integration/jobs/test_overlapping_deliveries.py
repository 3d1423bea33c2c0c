"""A batch redelivered while its first runner is alive and busy (a slow file outlasts the
visibility timeout) waits for that runner: real `mmrag worker` (threads pool, two at a
time), real Celery over Redis. Nothing is charged a crash, no batch runs twice, and the
store holds each file's points once, all live (issue 14)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from rag.jobs import JobRequest, JobState, client_service
from rag.store.edge import EmbeddedStore
from tests.conftest import REPO_ROOT
from tests.integration.jobs.conftest import (
    Process,
    redis_env,
    settings_from,
    store_points,
    wait_until,
)

# Enough text that embedding it on CPU takes several visibility timeouts.
SLOW_KB = 200


def _slow_text(path: Path) -> Path:
    base = (REPO_ROOT / "samples/text/printing.md").read_text()
    parts, size, n = [], 0, 0
    while size < SLOW_KB << 10:
        n += 1
        part = f"## Part {n}\n\nEdition {n}: {base}\n"
        parts.append(part)
        size += len(part)
    path.write_text("".join(parts))
    return path


def test_a_redelivered_slow_batch_waits_for_its_live_owner(
    redis_prefix: str, processes: Callable[..., Process], tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _slow_text(corpus / "slow.md")
    for name in ("printing.md", "traffic-signs.txt"):
        shutil.copy(REPO_ROOT / "samples/text" / name, corpus / name)
    env = redis_env(tmp_path / "data", redis_prefix) | {
        "MMRAG_JOBS__BATCH_FILES": "1",
        # a batch running longer than this is delivered again while it runs
        "MMRAG_JOBS__VISIBILITY_TIMEOUT_S": "3",
        # shorter than the visibility timeout: a waiting retry is not itself redelivered
        "MMRAG_JOBS__LEASE_S": "2",
    }
    settings = settings_from(env)
    service = client_service(settings)
    worker = processes(
        ["worker", "--pool", "threads", "--concurrency", "2"], env, tmp_path / "worker.log"
    )
    worker.wait_for(" ready.")
    job = service.submit(JobRequest((str(corpus),)), tenant="default")
    done = wait_until(
        lambda: (j := service.get(job.id)).state.terminal and j, 300, "the job to finish"
    )
    summary = service.view(done).summary
    service.close()
    assert worker.stop() == 0, worker.output()[-3000:]
    log = worker.output()

    assert done.state is JobState.SUCCEEDED, log[-3000:]
    assert "alive (lease for" in log, "no delivery overlapped its running owner: too fast?"
    for batch in done.batches:
        assert batch.crashes == {}, "a slow healthy file is never charged a crash"
        assert batch.attempts == 1, "no batch ran a second time"
    assert "delivery 2" not in log
    assert "raised unexpected" not in log, "every wait was retried until the owner finished"
    assert summary is not None
    assert summary["failed"] == []

    store = EmbeddedStore(settings.data_dir / "qdrant")
    ids, states = store_points(store)
    slow, _ = store.scroll("mmrag_text", limit=10_000)
    store.close()
    assert len(ids) == len(set(ids)), "a point id appears twice"
    assert states == {"live"}
    assert len(ids) == sum(summary["units"].values())
    slow_units = [p for p in slow if p.payload["source"].endswith("/slow.md")]
    assert len(slow_units) == slow_units[0].payload["unit_count"]
