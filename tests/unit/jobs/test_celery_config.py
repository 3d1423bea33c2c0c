"""The Celery side, short of running a worker (the integration tests run real ones)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import redis

from rag.errors import ConfigError, UpstreamError
from rag.jobs import JobRequest, JobService, JobState
from rag.jobs.celery_app import (
    RUN_BATCH,
    celery_config,
    make_celery,
    start_worker,
    worker_context,
)
from rag.jobs.ledger_redis import RedisLedger
from rag.jobs.service import CeleryDispatcher, client_service
from tests.conftest import SettingsFactory
from tests.unit.jobs.conftest import REDIS_URL


def test_delivery_guarantees_are_configured(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        jobs={"broker_url": REDIS_URL, "key_prefix": "p1", "visibility_timeout_s": 20}
    )
    conf = celery_config(settings)
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_url"] == conf["result_backend"] == REDIS_URL
    transport = conf["broker_transport_options"]
    assert transport["visibility_timeout"] == 20
    assert transport["global_keyprefix"] == "p1:celery:"
    assert transport["unacked_restore_interval"] == 5
    assert transport["unacked_restore_throttle"] == 1
    assert conf["task_default_queue"] == "mmrag-jobs"
    assert conf["accept_content"] == ["json"]

    other = celery_config(
        make_settings(jobs={"broker_url": REDIS_URL, "result_backend": "redis://other:6379/1"})
    )
    assert other["result_backend"] == "redis://other:6379/1"
    assert other["broker_transport_options"]["unacked_restore_interval"] == 10


def test_broker_settings_are_checked(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError):
        celery_config(make_settings())
    assert make_settings(jobs={"broker_url": "  "}).jobs.broker_url is None
    with pytest.raises(ValueError, match="redis://"):
        make_settings(jobs={"broker_url": "amqp://guest@localhost//"})


def test_the_app_registers_the_batch_task(make_settings: SettingsFactory) -> None:
    app = make_celery(make_settings(jobs={"broker_url": REDIS_URL}))
    assert RUN_BATCH in app.tasks
    assert app.conf.task_acks_late is True
    # waiting for a live owner and handing a batch back retry without a count limit
    assert app.tasks[RUN_BATCH].max_retries is None
    app.close()


def test_submitting_queues_one_message_per_batch(
    make_settings: SettingsFactory, redis_prefix: str, corpus: Path
) -> None:
    settings = make_settings(
        jobs={"broker_url": REDIS_URL, "key_prefix": redis_prefix, "batch_files": 3}
    )
    service = client_service(settings)
    assert isinstance(service.ledger, RedisLedger)
    job = service.submit(JobRequest((str(corpus),)), tenant="default")
    service.close()

    client = redis.Redis.from_url(REDIS_URL)
    queued = client.lrange(f"{redis_prefix}:celery:mmrag-jobs", 0, -1)
    client.close()
    assert len(queued) == 3
    messages = [json.loads(raw) for raw in queued]
    assert {m["headers"]["task"] for m in messages} == {RUN_BATCH}
    bodies = [json.loads(base64.b64decode(m["body"])) for m in messages]
    assert sorted(args for args, _, _ in bodies) == [[job.id, 0], [job.id, 1], [job.id, 2]]
    assert messages[0]["properties"]["delivery_info"]["routing_key"] == "mmrag-jobs"

    seen = client_service(settings)
    stored = seen.get(job.id)
    assert stored.state is JobState.QUEUED
    assert seen.view(stored).progress.files_total == 8
    seen.close()


def test_a_job_whose_batches_cannot_be_queued_fails(
    make_settings: SettingsFactory, redis_prefix: str, corpus: Path
) -> None:
    class DeadBroker:
        def dispatch(self, job_id: str, batches: int) -> None:
            raise ConnectionError("broker unreachable")

        def runners_gone(self) -> bool:
            return False

        def close(self) -> None:
            return None

    settings = make_settings(jobs={"broker_url": REDIS_URL, "key_prefix": redis_prefix})
    ledger = RedisLedger(REDIS_URL, prefix=f"{redis_prefix}:jobs")
    service = JobService(settings, ledger, DeadBroker())
    with pytest.raises(UpstreamError, match="could not queue"):
        service.submit(JobRequest((str(corpus),)), tenant="default")
    (job,) = ledger.jobs()
    assert job.state is JobState.FAILED
    assert "broker unreachable" in (job.error or "")
    ledger.close()


def test_celery_dispatcher_never_assumes_runners_are_gone(make_settings: SettingsFactory) -> None:
    dispatcher = CeleryDispatcher(make_settings(jobs={"broker_url": REDIS_URL}))
    assert dispatcher.runners_gone() is False
    dispatcher.close()


def test_worker_refusals(make_settings: SettingsFactory) -> None:
    settings = make_settings(jobs={"broker_url": REDIS_URL})
    with pytest.raises(ConfigError, match="one process"):
        start_worker(settings, pool="prefork")
    with pytest.raises(ConfigError, match="unknown pool"):
        start_worker(settings, pool="gevent")
    with pytest.raises(ConfigError, match="worker_process_init"):
        worker_context()


def test_each_app_registers_its_own_task(make_settings: SettingsFactory) -> None:
    # A task shared across apps would register twice in every later app (a
    # DuplicateTaskNameWarning in celery >= 5.7, an error under our warning filter).
    settings = make_settings(jobs={"broker_url": REDIS_URL})
    first, second = make_celery(settings), make_celery(settings)
    try:
        assert RUN_BATCH in first.tasks
        assert RUN_BATCH in second.tasks
        assert first.tasks[RUN_BATCH] is not second.tasks[RUN_BATCH]
    finally:
        first.close()
        second.close()
