"""How a job looks from outside: progress, throughput, ETA, failures and the final summary.

The API returns these models as JSON and the CLI prints them; the final ``summary`` has the
shape ``mmrag index --json`` prints, built by the same :class:`~indexers.report.IndexReport`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from indexers.report import FileStatus, IndexReport
from rag.jobs.ledger import JobLedger
from rag.jobs.model import BatchState, JobRecord, JobState
from rag.types import Modality


class FileFailure(BaseModel):
    path: str
    reason: str | None


class JobProgress(BaseModel):
    files_total: int = Field(
        description="Files the job covers (including those failed or skipped while planning)"
    )
    files_done: int = Field(description="Files with a result")
    files_in_progress: int = Field(
        description="Files a runner has begun and not finished (results arrive when the "
        "indexer writes its buffered units, so a batch's files finish together)"
    )
    batches_total: int
    batches_done: int = Field(description="Batches done or cancelled")
    indexed: dict[str, int] = Field(description="Files indexed, per modality")
    unchanged: dict[str, int] = Field(
        description="Files already indexed with the same bytes, per modality"
    )
    failed: int
    skipped: int
    units_written: dict[str, int] = Field(description="Units written so far, per modality")
    elapsed_s: float
    files_per_s: float
    units_per_s: dict[str, float]
    eta_s: float | None = Field(description="Seconds left at the current rate; null when unknown")


class JobView(BaseModel):
    id: str
    tenant: str
    state: JobState
    cancel_requested: bool
    sources: list[str]
    manifest: str | None
    recursive: bool
    collection_prefix: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    progress: JobProgress
    failed: list[FileFailure]
    summary: dict[str, Any] | None = Field(
        description="When finished: the summary `mmrag index --json` prints"
    )


class JobSummary(BaseModel):
    """One line of a job list."""

    id: str
    tenant: str
    state: JobState
    cancel_requested: bool
    sources: list[str]
    created_at: datetime
    finished_at: datetime | None
    files_total: int
    files_done: int


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def report_of(job: JobRecord, ledger: JobLedger) -> IndexReport:
    results = sorted(ledger.results(job.id).values(), key=lambda r: r.path)
    seconds = 0.0
    if job.started_at is not None:
        seconds = (job.finished_at or time.time()) - job.started_at
    return IndexReport(results=results, seconds=max(0.0, seconds))


def describe(job: JobRecord, ledger: JobLedger, *, now: float | None = None) -> JobView:
    now = now if now is not None else time.time()
    report = report_of(job, ledger)
    done = len(report.results)
    elapsed = 0.0
    if job.started_at is not None:
        elapsed = max(0.0, (job.finished_at or now) - job.started_at)
    worked = max(0, done - job.planned_outcomes)  # planning results took no time
    rate = worked / elapsed if elapsed > 0 else 0.0
    written = ledger.units(job.id)
    units_written = {m.value: written.get(m.value, 0) for m in Modality}
    eta: float | None = None
    if job.state is JobState.RUNNING and rate > 0:
        eta = max(0, job.files_total - done) / rate
    elif job.state.terminal:
        eta = 0.0
    in_progress = 0
    if not job.state.terminal:
        for index, batch in enumerate(job.batches):
            if batch.state is BatchState.RUNNING:
                in_progress += len(ledger.inflight(job.id, index))
    progress = JobProgress(
        files_total=job.files_total,
        files_done=done,
        files_in_progress=in_progress,
        batches_total=len(job.batches),
        batches_done=sum(1 for b in job.batches if b.state.terminal),
        indexed=report.counts(FileStatus.INDEXED),
        unchanged=report.counts(FileStatus.UNCHANGED),
        failed=len(report.by_status(FileStatus.FAILED)),
        skipped=len(report.by_status(FileStatus.SKIPPED)),
        units_written=units_written,
        elapsed_s=round(elapsed, 3),
        files_per_s=round(rate, 3),
        units_per_s={
            m: round(n / elapsed, 3) if elapsed > 0 else 0.0 for m, n in units_written.items()
        },
        eta_s=round(eta, 1) if eta is not None else None,
    )
    return JobView(
        id=job.id,
        tenant=job.tenant,
        state=job.state,
        cancel_requested=job.cancel_requested,
        sources=list(job.request.sources),
        manifest=job.request.manifest,
        recursive=job.request.recursive,
        collection_prefix=job.collection_prefix,
        created_at=_when(job.created_at) or datetime.now(UTC),
        started_at=_when(job.started_at),
        finished_at=_when(job.finished_at),
        error=job.error,
        progress=progress,
        failed=[
            FileFailure(path=r.path, reason=r.reason) for r in report.by_status(FileStatus.FAILED)
        ],
        summary=report.to_json() if job.state.terminal else None,
    )


def summarize(job: JobRecord, ledger: JobLedger) -> JobSummary:
    done = ledger.count_results(job.id)
    return JobSummary(
        id=job.id,
        tenant=job.tenant,
        state=job.state,
        cancel_requested=job.cancel_requested,
        sources=list(job.request.sources),
        created_at=_when(job.created_at) or datetime.now(UTC),
        finished_at=_when(job.finished_at),
        files_total=job.files_total,
        files_done=done,
    )
