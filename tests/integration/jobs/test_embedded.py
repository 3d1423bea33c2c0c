"""The embedded default (no broker, no server): the process owning the store runs jobs.

`mmrag jobs submit --wait --json` hands the job to a running `mmrag serve` and watches it
through the SQLite ledger; the service is SIGKILLed mid-job and started again; it resumes
the job, and the CLI ends with the summary `mmrag index --json` prints for the same files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.model import BatchState
from rag.store.edge import EmbeddedStore
from tests.conftest import REPO_ROOT
from tests.integration.jobs.conftest import (
    Process,
    Reference,
    base_env,
    free_port,
    store_points,
    wait_http,
    wait_until,
)


def test_service_killed_mid_job_resumes_it_and_the_cli_gets_the_summary(
    jobs_corpus: Path,
    reference: Reference,
    processes: Callable[..., Process],
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = base_env(data, MMRAG_JOBS__BATCH_FILES="2")
    port = free_port()
    service = processes(["serve", "--port", str(port)], env, tmp_path / "api-1.log")
    wait_http(f"http://127.0.0.1:{port}", service)

    cli = processes(
        ["jobs", "submit", str(jobs_corpus), "--wait", "--json"], env, tmp_path / "cli.log"
    )
    ledger = SqliteLedger(data / "jobs.sqlite3")
    job_id = wait_until(lambda: (jobs := ledger.jobs()) and jobs[0].id, 60, "the job")

    def mid_batch() -> bool:
        job = ledger.load(job_id)
        assert job is not None
        running = [i for i, b in enumerate(job.batches) if b.state is BatchState.RUNNING]
        return bool(
            ledger.count_results(job_id) >= 1 and running and ledger.inflight(job_id, running[0])
        )

    wait_until(mid_batch, 240, "the service to be in the middle of a batch", interval=0.02)
    service.kill()
    assert "queued: the service" in cli.output()

    restarted = processes(["serve", "--port", str(port)], env, tmp_path / "api-2.log")
    wait_http(f"http://127.0.0.1:{port}", restarted)
    assert cli.proc is not None
    assert cli.proc.wait(240) == 0, cli.output()[-3000:]
    restarted.stop()

    summary = json.loads(cli.output()[cli.output().index("{") :])
    expected = dict(reference.summary)
    assert summary.pop("seconds") > 0
    expected.pop("seconds")
    assert summary == expected

    job = ledger.load(job_id)
    assert job is not None
    assert [b.attempts for b in job.batches].count(2) == 1, "one batch was resumed"
    store = EmbeddedStore(data / "qdrant")
    ids, states = store_points(store)
    store.close()
    assert sorted(ids) == sorted(reference.ids)
    assert states == {"live"}


def test_with_no_service_the_cli_runs_the_job_with_a_progress_bar(tmp_path: Path) -> None:
    corpus = tmp_path / "texts"
    corpus.mkdir()
    for name in ("printing.md", "traffic-signs.txt", "clock-towers.html"):
        shutil.copy(REPO_ROOT / "samples/text" / name, corpus / name)
    (corpus / "empty.txt").write_bytes(b"")  # fails alone
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", "jobs", "submit", str(corpus), "--wait"],
        env=base_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "running it here" in result.stderr
    err = " ".join(result.stderr.split())  # rich wraps long lines
    assert "empty.txt: empty file" in err or ("empty.txt" in err and "empty file" in err)
    assert "indexing summary" in result.stdout
    assert "job " in result.stderr
    assert "failed" in result.stderr
