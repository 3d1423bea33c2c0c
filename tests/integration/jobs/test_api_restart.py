"""The API is only a window on jobs whose state lives in Redis: killing and restarting it
mid-job changes nothing; cancelling over HTTP stops a job within a bounded time."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from rag.store import Filter, MatchValue
from rag.store.edge import EmbeddedStore
from tests.integration.jobs.conftest import (
    TERMINAL,
    Process,
    free_port,
    redis_env,
    store_points,
    wait_http,
    wait_until,
)


def _serve(
    processes: Callable[..., Process], env: dict[str, str], log: Path
) -> tuple[str, Process]:
    port = free_port()
    api = processes(["serve", "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    wait_http(base, api)
    return base, api


def _job(base: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_api_restart_mid_job_and_cancel(
    jobs_corpus: Path,
    shared_data: Path,
    redis_prefix: str,
    processes: Callable[..., Process],
    tmp_path: Path,
) -> None:
    more = tmp_path / "more"
    more.mkdir()
    images = sorted((shared_data / "image_caption/coco2017_subset/images/val2017").glob("*.jpg"))
    for image in images[40:50]:
        shutil.copy(image, more / image.name)
    env = redis_env(
        tmp_path / "data",
        redis_prefix,
        MMRAG_JOBS__SOURCE_ROOTS=json.dumps([str(jobs_corpus), str(more)]),
    )
    # threads sharing one process's models and store (the GPU-friendly shape)
    worker = processes(
        ["worker", "--pool", "threads", "--concurrency", "2"], env, tmp_path / "worker.log"
    )
    worker.wait_for(" ready.")
    base, api = _serve(processes, env, tmp_path / "api-1.log")

    response = httpx.post(f"{base}/v1/jobs", json={"sources": [str(jobs_corpus)]}, timeout=30)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.json()["progress"]["files_total"] == 8

    before = wait_until(
        lambda: (
            (b := _job(base, job_id))["progress"]["files_done"] >= 2
            and b["state"] == "running"
            and b
        ),
        180,
        "progress",
        interval=0.05,
    )
    api.kill()  # the API dies mid-job; the worker and Redis do not care

    base, api = _serve(processes, env, tmp_path / "api-2.log")
    after = _job(base, job_id)
    assert after["state"] in ("running", "succeeded")
    assert after["progress"]["files_total"] == before["progress"]["files_total"]
    assert after["progress"]["files_done"] >= before["progress"]["files_done"]
    assert after["created_at"] == before["created_at"]
    assert after["started_at"] == before["started_at"]
    listed = httpx.get(f"{base}/v1/jobs", timeout=10).json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]

    done = wait_until(
        lambda: (b := _job(base, job_id))["state"] in TERMINAL and b, 180, "the job to end"
    )
    assert done["state"] == "succeeded", done
    assert done["summary"]["indexed"] == {"text": 2, "image": 4, "audio": 2}
    assert done["progress"]["files_done"] == 8

    # cancel: pending batches are dropped, the running one stops at its next file
    response = httpx.post(f"{base}/v1/jobs", json={"sources": [str(more)]}, timeout=30)
    assert response.status_code == 202, response.text
    big = response.json()["id"]
    wait_until(lambda: _job(base, big)["progress"]["files_done"] >= 1, 120, "a first file")
    asked = time.monotonic()
    cancelled = httpx.delete(f"{base}/v1/jobs/{big}", timeout=10)
    assert cancelled.status_code == 202
    assert cancelled.json()["cancel_requested"] is True
    end = wait_until(lambda: (b := _job(base, big))["state"] in TERMINAL and b, 60, "cancel")
    stopped_after = time.monotonic() - asked
    assert end["state"] == "cancelled"
    assert stopped_after < 30, f"cancel took {stopped_after:.1f} s"
    indexed = end["summary"]["indexed"]["image"]
    assert 1 <= indexed < 10
    assert end["progress"]["files_done"] == indexed

    api.stop()
    assert worker.stop() == 0, worker.output()[-3000:]
    store = EmbeddedStore(tmp_path / "data" / "qdrant")
    _, states = store_points(store)
    in_more = store.count(
        "mmrag_image", Filter(must=(MatchValue("source_prefixes", f"{more.as_posix()}/"),))
    )
    store.close()
    assert states == {"live"}, "nothing half-indexed is left by the cancelled batch"
    assert in_more == indexed, "what the cancelled job finished stays, and only that"
