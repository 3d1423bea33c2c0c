"""The job ledgers stay bounded (issue 14): finished jobs expire, and the listing indexes
(Redis ``:all`` / ``:tenant:<t>``, the SQLite table) never grow past MMRAG_JOBS__MAX_JOBS
finished jobs; unfinished jobs are never dropped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rag.jobs import lifecycle
from rag.jobs.ledger import JobLedger, open_ledger
from rag.jobs.ledger_redis import RedisLedger
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.model import BatchRecord, JobRecord, JobRequest, JobState
from tests.conftest import SettingsFactory
from tests.unit.jobs.conftest import REDIS_URL

NOW = time.time()


def _job(job_id: str, tenant: str, created: float, *, finished: bool) -> JobRecord:
    """``created``: seconds into the test's recent past (well within retention)."""
    created = NOW - 3600 + created
    job = JobRecord(
        id=job_id,
        tenant=tenant,
        request=JobRequest(("/data",)),
        collection_prefix="mmrag",
        created_at=created,
        batches=[BatchRecord(1)],
        planned_files=1,
    )
    if finished:
        lifecycle.fail_job(job, error="x", now=created + 1)
    return job


@pytest.fixture(params=["sqlite", "redis"])
def small(request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str) -> Iterator[JobLedger]:
    made: JobLedger
    if request.param == "sqlite":
        made = SqliteLedger(tmp_path / "jobs.sqlite3", max_jobs=10)
    else:
        made = RedisLedger(REDIS_URL, prefix=f"{redis_prefix}:jobs", max_jobs=10)
    yield made
    made.close()


def test_the_oldest_finished_jobs_go_beyond_max_jobs(small: JobLedger) -> None:
    small.insert(_job("stuck", "acme", 1.0, finished=False), [["/a"]], [])
    for i in range(30):
        tenant = "acme" if i % 2 else "globex"
        small.insert(_job(f"j{i:02}", tenant, 10.0 + i, finished=True), [["/a"]], [])
    listed = [j.id for j in small.jobs(limit=500)]
    assert len(listed) == 10
    assert listed[:9] == [f"j{i:02}" for i in range(29, 20, -1)], "newest kept"
    assert "stuck" in listed, "an unfinished job is never dropped"
    assert small.load("j00") is None
    assert small.batch_paths("j29", 0) == ["/a"]
    assert {j.tenant for j in small.jobs(tenant="acme", limit=500)} == {"acme"}


def test_redis_index_sets_stay_bounded(redis_prefix: str) -> None:
    ledger = RedisLedger(REDIS_URL, prefix=f"{redis_prefix}:jobs", max_jobs=10)
    client = redis.Redis.from_url(REDIS_URL)
    every, acme = f"{redis_prefix}:jobs:all", f"{redis_prefix}:jobs:tenant:acme"
    try:
        for i in range(40):
            ledger.insert(_job(f"j{i:02}", "acme", 10.0 + i, finished=True), [["/a"]], [])
        assert client.zcard(every) == 10
        assert client.zcard(acme) == 10
        assert not client.exists(f"{redis_prefix}:jobs:job:j00:paths"), "dropped with its keys"
        # an id whose record expired leaves both sets at the next insert, not only on listing
        client.delete(f"{redis_prefix}:jobs:job:j35")
        ledger.insert(_job("j40", "acme", 50.0, finished=True), [["/a"]], [])
        assert client.zscore(every, "j35") is None
        assert client.zscore(acme, "j35") is None
        assert client.zcard(every) <= 10
        # finished jobs carry a TTL; every key the ledger writes for them is covered
        ttls = [client.ttl(k) for k in client.scan_iter(f"{redis_prefix}:jobs:job:*")]
        assert ttls
        assert all(t > 0 for t in ttls)
    finally:
        client.close()
        ledger.close()


def test_open_ledger_passes_the_bounds(make_settings: SettingsFactory) -> None:
    local = open_ledger(make_settings(jobs={"max_jobs": 123, "retention_days": 2}))
    assert isinstance(local, SqliteLedger)
    assert local.max_jobs == 123
    assert local.retention_s == 2 * 86400
    remote = open_ledger(make_settings(jobs={"broker_url": REDIS_URL, "max_jobs": 77}))
    assert isinstance(remote, RedisLedger)
    assert remote.max_jobs == 77
    remote.close()
    local.close()
    assert JobState.FAILED.terminal
