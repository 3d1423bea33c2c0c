"""Submitting, watching and cancelling jobs: what the API and the CLI call.

A :class:`JobService` plans a job, records it in the ledger, and hands its batches to a
dispatcher: Celery (a broker is configured) or the local executor (the embedded default).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from indexers.report import FileStatus
from indexers.sources import check_tenant
from rag.errors import BadInputError, NotFoundError, UpstreamError
from rag.jobs import lifecycle
from rag.jobs.ledger import JobLedger, open_ledger
from rag.jobs.model import BatchRecord, JobRecord, JobRequest, JobState
from rag.jobs.ownership import owner_lock
from rag.jobs.planning import plan_sources
from rag.jobs.view import JobSummary, JobView, describe, summarize
from rag.settings import Settings, StoreSettings

if TYPE_CHECKING:
    from celery import Celery

    from rag.jobs.local import LocalExecutor
    from rag.models import ModelRegistry
    from rag.store import VectorStore

logger = logging.getLogger(__name__)

MAX_LIST = 500


class Dispatcher(Protocol):
    def dispatch(self, job_id: str, batches: int) -> None: ...

    def runners_gone(self) -> bool:
        """True only when no runner can be in the middle of a batch right now."""
        ...

    def close(self) -> None: ...


class CeleryDispatcher:
    def __init__(self, settings: Settings) -> None:
        from rag.jobs.celery_app import make_celery

        self.settings = settings
        self.app: Celery = make_celery(settings)

    def dispatch(self, job_id: str, batches: int) -> None:
        from rag.jobs.celery_app import send_batches

        send_batches(self.app, self.settings, job_id, batches)

    def runners_gone(self) -> bool:
        return False  # workers may be anywhere; a running batch stops at its next file

    def close(self) -> None:
        self.app.close()


class LocalDispatcher:
    """No broker: the local executor polls the ledger; ``wake`` saves it the wait."""

    def __init__(self, settings: Settings, executor: LocalExecutor | None = None) -> None:
        self.settings = settings
        self.executor = executor

    def dispatch(self, job_id: str, batches: int) -> None:
        if self.executor is not None:
            self.executor.wake()

    def runners_gone(self) -> bool:
        lock = owner_lock(self.settings.data_dir)
        if lock.acquire():
            lock.release()
            return True
        return False

    def close(self) -> None:
        return None


class JobService:
    def __init__(self, settings: Settings, ledger: JobLedger, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.ledger = ledger
        self.dispatcher = dispatcher

    def submit(
        self,
        request: JobRequest,
        *,
        tenant: str,
        roots: Sequence[Path] | None = None,
        base: Path | None = None,
    ) -> JobRecord:
        """Plan the job, record it, queue its batches. ``roots``: see
        :func:`~rag.jobs.planning.plan_sources` (HTTP passes the configured roots)."""
        check_tenant(tenant)
        prefix = self._prefix(request.collection_prefix)
        plan = plan_sources(
            request.sources,
            manifest=request.manifest,
            recursive=request.recursive,
            roots=roots,
            base=base,
        )
        batches = plan.batches(self.settings.jobs.batch_files)
        now = time.time()
        job = JobRecord(
            id=uuid.uuid4().hex,
            tenant=tenant,
            request=request,
            collection_prefix=prefix,
            created_at=now,
            batches=[BatchRecord(size=len(b)) for b in batches],
            planned_files=len(plan.files),
            planned_outcomes=len(plan.outcomes),
            planned_failed=sum(1 for r in plan.outcomes if r.status is FileStatus.FAILED),
        )
        lifecycle.settle(job, now)  # nothing to run: finished at once
        self.ledger.insert(job, batches, plan.outcomes)
        if batches:
            try:
                self.dispatcher.dispatch(job.id, len(batches))
            except Exception as exc:
                detail = f"could not queue the job's batches: {type(exc).__name__}: {exc}"
                self.ledger.update(
                    job.id, lambda j: lifecycle.fail_job(j, error=detail, now=time.time())
                )
                raise UpstreamError(detail, job=job.id) from exc
        logger.info(
            "job %s: %d file(s) in %d batch(es) for tenant %s",
            job.id,
            len(plan.files),
            len(batches),
            tenant,
        )
        return job

    def get(self, job_id: str, *, tenant: str | None = None) -> JobRecord:
        job = self.ledger.load(job_id)
        # another tenant's job does not exist, as far as this caller can tell
        if job is None or (tenant is not None and job.tenant != tenant):
            raise NotFoundError(f"no job {job_id!r}", job=job_id)
        return job

    def list(
        self, *, tenant: str | None = None, limit: int = 50, state: JobState | None = None
    ) -> list[JobRecord]:
        if not 1 <= limit <= MAX_LIST:
            raise BadInputError(f"limit must be between 1 and {MAX_LIST}", field="limit")
        if state is None:
            return self.ledger.jobs(tenant=tenant, limit=limit)
        jobs = self.ledger.jobs(tenant=tenant, limit=MAX_LIST)
        return [job for job in jobs if job.state is state][:limit]

    def cancel(self, job_id: str, *, tenant: str | None = None) -> JobRecord:
        """Cancel a job: pending batches are dropped now, a running one stops at its next
        file. Cancelling a finished job changes nothing."""
        self.get(job_id, tenant=tenant)
        orphaned = self.dispatcher.runners_gone()

        def cancel(job: JobRecord) -> JobRecord:
            lifecycle.request_cancel(job, now=time.time(), orphaned=orphaned)
            return job

        return self.ledger.update(job_id, cancel)

    def view(self, job: JobRecord) -> JobView:
        return describe(job, self.ledger)

    def summary(self, job: JobRecord) -> JobSummary:
        return summarize(job, self.ledger)

    def close(self) -> None:
        self.dispatcher.close()
        self.ledger.close()

    def _prefix(self, requested: str | None) -> str:
        if requested is None:
            return self.settings.store.collection_prefix
        try:
            return StoreSettings(collection_prefix=requested).collection_prefix
        except ValidationError as exc:
            raise BadInputError(
                f"invalid collection prefix {requested!r}: use 1-48 lowercase letters, digits, "
                "'_' or '-'",
                field="collection_prefix",
            ) from exc


@dataclass
class JobRuntime:
    """The jobs side of a long-running process (the API): the service, and the local
    executor when this process runs the jobs itself."""

    service: JobService
    executor: LocalExecutor | None = None

    def close(self, timeout: float = 30.0) -> None:
        if self.executor is not None:
            self.executor.stop(timeout)
        self.service.close()


def start_jobs(
    settings: Settings,
    *,
    models: ModelRegistry,
    store: VectorStore,
    index_lock: threading.Lock | None = None,
) -> JobRuntime:
    """Jobs for a service process: with a broker, submit to Celery; without one, also run
    them here (this process owns the store)."""
    ledger = open_ledger(settings)
    if settings.jobs.broker_url:
        return JobRuntime(JobService(settings, ledger, CeleryDispatcher(settings)))
    from rag.jobs.ledger_sqlite import SqliteLedger
    from rag.jobs.local import LocalExecutor
    from rag.jobs.runner import JobContext

    assert isinstance(ledger, SqliteLedger)
    context = JobContext(settings, models, store, ledger, index_lock=index_lock)
    executor = LocalExecutor(context, ledger)
    executor.start()
    return JobRuntime(JobService(settings, ledger, LocalDispatcher(settings, executor)), executor)


def client_service(settings: Settings) -> JobService:
    """A service for a process that submits and watches but runs nothing (the CLI)."""
    ledger = open_ledger(settings)
    if settings.jobs.broker_url:
        return JobService(settings, ledger, CeleryDispatcher(settings))
    return JobService(settings, ledger, LocalDispatcher(settings))
