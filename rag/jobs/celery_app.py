"""Celery: the broker path (``MMRAG_JOBS__BROKER_URL`` set).

The task is thin: ids in, :func:`rag.jobs.runner.run_batch` does the work. Delivery is
at-least-once and the work is idempotent:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a batch is acknowledged only after it
  ran; a worker that dies mid-batch never acknowledges it.
- ``worker_prefetch_multiplier=1``: a worker holds one unacknowledged batch at a time, so a
  dead worker strands one batch, not a prefetched queue of them.
- Redis ``visibility_timeout``: a delivery not acknowledged within it goes back on the queue
  (that is how a SIGKILLed worker's batch reaches another worker). Workers sweep for such
  deliveries every ``unacked_restore_interval`` seconds and when they start. A batch that is
  merely slow comes back too: its owner's lease (``MMRAG_JOBS__LEASE_S``) is current, so
  the redelivery retries later instead of running it twice (:mod:`rag.jobs.lifecycle`).

Each worker process loads its models and opens the store once, in ``worker_process_init``
(sent by the solo pool as well as by each prefork child; the threads pool sends none, so
there it happens in ``worker_init``, in the one process its threads share). The embedded
store admits one process: with it, run one worker process (solo pool, or threads sharing
the one store).
"""

from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError, MmragError
from rag.jobs.ledger import open_ledger
from rag.jobs.ownership import OwnerLock, owner_lock
from rag.jobs.runner import BatchOutcome, JobContext, run_batch
from rag.settings import ModelKind, Settings
from rag.types import Modality

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

RUN_BATCH = "mmrag.jobs.run_batch"
INDEX_MODELS: tuple[ModelKind, ...] = ("text", "clip", "whisper", "ocr")
POOLS = ("solo", "threads", "prefork")

# The process's runtime, built by worker_process_init: one per worker process.
_context: JobContext | None = None
_owner: OwnerLock | None = None


def celery_config(settings: Settings) -> dict[str, Any]:
    jobs = settings.jobs
    if not jobs.broker_url:
        raise ConfigError("no broker configured (MMRAG_JOBS__BROKER_URL)")
    visibility = jobs.visibility_timeout_s
    transport: dict[str, Any] = {
        "visibility_timeout": visibility,
        "global_keyprefix": f"{jobs.key_prefix}:celery:",
        # Sweep for abandoned deliveries a few times per visibility timeout (every 10 s at
        # most), scanning on every sweep, so one is back within about timeout + interval.
        "unacked_restore_interval": max(1, min(10, int(visibility / 4))),
        "unacked_restore_throttle": 1,
        # A worker killed while holding the restore mutex must not block sweeps for long.
        "unacked_mutex_expire": max(5, min(300, int(visibility))),
    }
    return {
        "broker_url": jobs.broker_url,
        "result_backend": jobs.result_backend or jobs.broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_default_queue": jobs.queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 86400,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }


def make_celery(settings: Settings) -> Celery:
    """A Celery app configured from settings, with the batch task registered."""
    from celery import Celery, Task

    app = Celery("mmrag", set_as_current=False)
    app.conf.update(celery_config(settings))

    # max_retries=None on the task: retry(max_retries=None) alone means "the task's
    # default" (3), which ended a wait for a live owner after three looks. The ledger
    # bounds the attempts that do work (MMRAG_JOBS__MAX_ATTEMPTS).
    @app.task(name=RUN_BATCH, bind=True, shared=False, max_retries=None)  # type: ignore[untyped-decorator]
    def run_batch_task(self: Task, job_id: str, index: int) -> dict[str, Any]:
        report = run_batch(worker_context(), job_id, index)
        if report.outcome is BatchOutcome.RETRY:
            # the store failed: try again later; the ledger bounds the attempts
            raise self.retry(countdown=min(60, 2**report.attempt), max_retries=None)
        if report.outcome is BatchOutcome.RELEASED:
            raise self.retry(countdown=0, max_retries=None)  # shutting down: hand it back
        if report.outcome is BatchOutcome.WAIT:
            # a redelivery while the batch's owner is alive (a slow file outlasted the
            # visibility timeout): look again when its lease would lapse; no crash charged
            raise self.retry(countdown=math.ceil(report.wait_s or 1.0), max_retries=None)
        return asdict(report)

    return app


def send_batches(app: Celery, settings: Settings, job_id: str, count: int) -> None:
    for index in range(count):
        app.send_task(RUN_BATCH, args=(job_id, index), queue=settings.jobs.queue)


# -- the worker process ------------------------------------------------------------------------
def worker_context() -> JobContext:
    if _context is None:
        raise ConfigError("this process has no job runtime (worker_process_init did not run)")
    return _context


def init_worker_process(settings: Settings) -> JobContext:
    """Load the indexing models and open the store and the ledger, once per process."""
    global _context, _owner
    from rag.models import ModelState
    from rag.runtime import Runtime
    from rag.store.collections import collection_name

    if settings.store.backend == "embedded":
        lock = owner_lock(settings.data_dir)
        if not lock.acquire():
            raise ConfigError(
                f"another process (pid {lock.holder()}) runs jobs on the embedded store in "
                f"{settings.data_dir}: one process owns an embedded store; run one worker, "
                "or use the server backend for several"
            )
        _owner = lock
    runtime = Runtime(settings)
    models = runtime.models
    for kind in INDEX_MODELS:
        if models.status()[kind].state is not ModelState.DISABLED:
            models.load(kind)
    store = runtime.store
    for modality in Modality:  # open what exists now: a store held elsewhere fails here
        name = collection_name(settings.store.collection_prefix, modality)
        if store.collection_exists(name):
            store.info(name)
    _context = JobContext(settings, models, store, open_ledger(settings))
    logger.info(
        "worker process ready: models %s on %s, %s store",
        ", ".join(INDEX_MODELS),
        models.status()["text"].device,
        settings.store.backend,
    )
    return _context


def shutdown_worker_process() -> None:
    global _context, _owner
    if _context is not None:
        _context.stopping.set()
        _context.store.close()
        _context.ledger.close()
        _context = None
    if _owner is not None:
        _owner.release()
        _owner = None


def start_worker(
    settings: Settings, *, pool: str = "solo", concurrency: int = 1, loglevel: str = "INFO"
) -> int:
    """Run a Celery worker in this process until it is stopped; returns its exit code."""
    from celery import signals

    if pool not in POOLS:
        raise ConfigError(f"unknown pool {pool!r}: use one of {', '.join(POOLS)}")
    if settings.store.backend == "embedded" and pool == "prefork":
        raise ConfigError(
            "the embedded store admits one process: use --pool solo or --pool threads "
            "(several worker processes need MMRAG_STORE__BACKEND=server)"
        )
    if pool == "solo":
        concurrency = 1

    def on_process_init(**_: Any) -> None:
        try:
            init_worker_process(settings)
        except MmragError as exc:
            logger.critical("the worker cannot start: %s", exc.detail)
            # SystemExit passes through Celery's signal dispatch (which logs and swallows
            # ordinary exceptions): a worker without models or store must not take tasks.
            raise SystemExit(3) from exc

    def on_shutting_down(**_: Any) -> None:
        if _context is not None:
            _context.stopping.set()  # stop at the next file; the batch is handed back

    def on_process_shutdown(**_: Any) -> None:
        shutdown_worker_process()

    if pool == "threads":
        # The threads pool sends no worker_process_init: its threads share this process,
        # whose start (worker_init) is the moment to load.
        signals.worker_init.connect(on_process_init, weak=False)
    else:
        signals.worker_process_init.connect(on_process_init, weak=False)
    signals.worker_shutting_down.connect(on_shutting_down, weak=False)
    signals.worker_process_shutdown.connect(on_process_shutdown, weak=False)
    app = make_celery(settings)
    worker = app.Worker(
        hostname=f"mmrag-{os.getpid()}@{socket.gethostname()}",
        pool_cls=pool,
        concurrency=concurrency,
        queues=[settings.jobs.queue],
        loglevel=loglevel,
        without_mingle=True,
        without_gossip=True,
        optimization="fair",
    )
    try:
        worker.start()
    finally:
        shutdown_worker_process()
    return int(worker.exitcode or 0)
