"""Both ledgers behave the same (SQLite file and real Redis on loopback)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from indexers.report import FileResult, FileStatus
from rag.errors import NotFoundError
from rag.jobs import lifecycle
from rag.jobs.ledger import JobLedger, open_ledger
from rag.jobs.ledger_redis import RedisLedger
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.model import BatchRecord, BatchState, JobRecord, JobRequest, JobState
from rag.types import Modality
from tests.conftest import SettingsFactory
from tests.unit.jobs.conftest import REDIS_URL


def _job(job_id: str = "j1", tenant: str = "default", created: float = 100.0) -> JobRecord:
    return JobRecord(
        id=job_id,
        tenant=tenant,
        request=JobRequest(("/data",)),
        collection_prefix="mmrag",
        created_at=created,
        batches=[BatchRecord(2), BatchRecord(1)],
        planned_files=3,
        planned_outcomes=1,
        planned_failed=1,
    )


PLANNED = FileResult("/data/x.docx", None, FileStatus.FAILED, reason="unsupported file type .docx")


def test_insert_load_and_batches(ledger: JobLedger) -> None:
    job = _job()
    ledger.insert(job, [["/data/a.png", "/data/b.png"], ["/data/c.png"]], [PLANNED])
    assert ledger.load("j1") == job
    assert ledger.load("nope") is None
    assert ledger.batch_paths("j1", 0) == ["/data/a.png", "/data/b.png"]
    assert ledger.batch_paths("j1", 1) == ["/data/c.png"]
    with pytest.raises(NotFoundError):
        ledger.batch_paths("j1", 2)
    assert ledger.results("j1") == {PLANNED.path: PLANNED}
    assert ledger.count_results("j1") == 1


def test_update_is_atomic_read_modify_write(ledger: JobLedger) -> None:
    ledger.insert(_job(), [["/a", "/b"], ["/c"]], [])
    start = ledger.update(
        "j1",
        lambda job: lifecycle.begin_batch(
            job, 0, owner="h:1", inflight=(), now=200.0, max_attempts=5
        ),
    )
    assert start.run
    stored = ledger.load("j1")
    assert stored is not None
    assert stored.state is JobState.RUNNING
    assert stored.batches[0].state is BatchState.RUNNING
    with pytest.raises(NotFoundError):
        ledger.update("nope", lambda job: None)


def test_concurrent_updates_do_not_lose_changes(ledger: JobLedger) -> None:
    job = _job()
    job.batches = [BatchRecord(1) for _ in range(8)]
    ledger.insert(job, [[f"/f{i}"] for i in range(8)], [])

    def finish(index: int) -> None:
        ledger.update(
            "j1",
            lambda j: lifecycle.finish_batch(j, index, state=BatchState.DONE, failed=0, now=1.0),
        )

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = ledger.load("j1")
    assert stored is not None
    assert all(b.state is BatchState.DONE for b in stored.batches)
    assert stored.state is JobState.FAILED  # the planned failure


def test_inflight_results_and_units(ledger: JobLedger) -> None:
    ledger.insert(_job(), [["/a", "/b"], ["/c"]], [])
    assert ledger.inflight("j1", 0) == set()
    ledger.set_inflight("j1", 0, {"/a", "/b"})
    assert ledger.inflight("j1", 0) == {"/a", "/b"}
    ledger.set_inflight("j1", 0, ())
    assert ledger.inflight("j1", 0) == set()

    first = FileResult("/a", Modality.IMAGE, FileStatus.INDEXED, units=1, source="/a")
    ledger.put_result("j1", first)
    ledger.put_result("j1", FileResult("/b", Modality.IMAGE, FileStatus.FAILED, reason="bad"))
    again = FileResult("/a", Modality.IMAGE, FileStatus.UNCHANGED, source="/a")
    ledger.put_result("j1", again)  # replaced: one result per file
    assert ledger.results("j1")["/a"] == again
    assert set(ledger.results("j1", ["/a", "/zzz"])) == {"/a"}
    assert ledger.results("j1", []) == {}
    assert ledger.count_results("j1") == 2

    ledger.add_units("j1", "image", 3)
    ledger.add_units("j1", "image", 2)
    ledger.add_units("j1", "audio", 1)
    assert ledger.units("j1") == {"image": 5, "audio": 1}


def test_listing_is_newest_first_and_per_tenant(ledger: JobLedger) -> None:
    ledger.insert(_job("old", "acme", 100.0), [["/a"], ["/b"]], [])
    ledger.insert(_job("new", "acme", 200.0), [["/a"], ["/b"]], [])
    ledger.insert(_job("other", "globex", 150.0), [["/a"], ["/b"]], [])
    assert [j.id for j in ledger.jobs()] == ["new", "other", "old"]
    assert [j.id for j in ledger.jobs(tenant="acme")] == ["new", "old"]
    assert [j.id for j in ledger.jobs(tenant="acme", limit=1)] == ["new"]
    assert ledger.jobs(tenant="initech") == []


def test_many_paths_at_once(ledger: JobLedger) -> None:
    paths = [f"/data/{i:05}.png" for i in range(1200)]
    ledger.insert(_job(), [paths, ["/x"]], [])
    for p in paths[::2]:
        ledger.put_result("j1", FileResult(p, Modality.IMAGE, FileStatus.INDEXED, units=1))
    assert len(ledger.results("j1", paths)) == 600


def test_sqlite_purges_finished_jobs_after_retention(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "jobs.sqlite3", retention_s=60)
    old = _job("old")
    old.state, old.finished_at = JobState.SUCCEEDED, time.time() - 120
    ledger.insert(old, [["/a"], ["/b"]], [PLANNED])
    running = _job("running", created=50.0)
    ledger.insert(running, [["/a"], ["/b"]], [])
    ledger.insert(_job("new"), [["/a"], ["/b"]], [])  # inserting purges
    assert ledger.load("old") is None
    assert ledger.results("old") == {}
    assert ledger.load("running") is not None, "unfinished jobs are never purged"
    assert [j.id for j in ledger.unfinished()] == ["running", "new"]


def test_redis_sets_retention_on_finished_jobs(redis_prefix: str) -> None:
    ledger = RedisLedger(REDIS_URL, prefix=f"{redis_prefix}:jobs", retention_s=3600)
    ledger.insert(_job(), [["/a", "/b"], ["/c"]], [PLANNED])
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{redis_prefix}:jobs:job:j1"
    assert client.ttl(key) == -1, "a live job does not expire"
    ledger.update("j1", lambda j: lifecycle.fail_job(j, error="x", now=1.0))
    assert 0 < client.ttl(key) <= 3600
    assert 0 < client.ttl(f"{key}:results") <= 3600
    client.delete(key)  # as if expired: listing drops it
    assert ledger.jobs() == []
    assert client.zcard(f"{redis_prefix}:jobs:all") == 0
    client.close()
    ledger.close()


def test_open_ledger_follows_the_broker_setting(make_settings: SettingsFactory) -> None:
    local = open_ledger(make_settings())
    assert isinstance(local, SqliteLedger)
    assert local.path == make_settings().data_dir / "jobs.sqlite3"
    remote = open_ledger(make_settings(jobs={"broker_url": REDIS_URL, "key_prefix": "t1"}))
    assert isinstance(remote, RedisLedger)
    assert remote.prefix == "t1:jobs"
    remote.close()


def test_redis_down_is_an_upstream_error() -> None:
    from rag.errors import UpstreamError

    ledger = RedisLedger("redis://127.0.0.1:1/0", prefix="x")
    with pytest.raises(UpstreamError, match="Redis"):
        ledger.load("j1")
