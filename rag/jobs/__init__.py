"""Batch indexing jobs: plan, queue, run, watch, cancel (see docs/jobs.md).

Modules: ``model`` (records), ``lifecycle`` (state transitions), ``planning`` (sources ->
batches), ``ledger*`` (durable state: SQLite or Redis), ``runner`` (one batch: the plain
function every path calls), ``local`` (the executor of the embedded default),
``celery_app`` (the broker path), ``service`` (what the API and the CLI call), ``view``.
Celery is imported only when a broker is used.
"""

from __future__ import annotations

from rag.jobs.ledger import JobLedger, open_ledger
from rag.jobs.model import BatchRecord, BatchState, JobRecord, JobRequest, JobState
from rag.jobs.runner import BatchOutcome, BatchReport, JobContext, run_batch
from rag.jobs.service import JobRuntime, JobService, client_service, start_jobs
from rag.jobs.view import FileFailure, JobProgress, JobSummary, JobView

__all__ = [
    "BatchOutcome",
    "BatchRecord",
    "BatchReport",
    "BatchState",
    "FileFailure",
    "JobContext",
    "JobLedger",
    "JobProgress",
    "JobRecord",
    "JobRequest",
    "JobRuntime",
    "JobService",
    "JobState",
    "JobSummary",
    "JobView",
    "client_service",
    "open_ledger",
    "run_batch",
    "start_jobs",
]
