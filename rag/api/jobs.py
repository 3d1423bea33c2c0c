"""Batch indexing jobs over HTTP: submit, watch, list, cancel (per tenant)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.api.auth import Tenant
from rag.api.state import ServiceState, get_state
from rag.errors import ConfigError
from rag.jobs import JobRequest, JobService, JobState, JobSummary, JobView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

State = Annotated[ServiceState, Depends(get_state)]


class JobSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description="Absolute paths (files or folders) or glob patterns on the server, "
        "under MMRAG_JOBS__SOURCE_ROOTS",
    )
    manifest: str | None = Field(
        default=None,
        description="Absolute path of a text file listing one path or glob per line",
    )
    recursive: bool = Field(default=True, description="Descend into sub-folders")
    collection_prefix: str | None = Field(
        default=None,
        description="Write to <prefix>_text/_image/_audio instead of the configured prefix",
    )

    @field_validator("sources", "manifest", "collection_prefix")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and ("\x00" in text or not _encodable(text)):
                raise ValueError("a path may not hold NUL bytes or lone surrogates")
        return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JobList(BaseModel):
    jobs: list[JobSummary]


def get_jobs(state: State) -> JobService:
    if state.jobs is None:
        raise ConfigError("jobs are not available in this service")
    return state.jobs.service


Jobs = Annotated[JobService, Depends(get_jobs)]


@router.post(
    "",
    status_code=202,
    response_model=JobView,
    summary="Submit a batch indexing job",
    description=(
        "Plans the job now (so the response says how many files it covers, and which sources "
        "could not be used) and queues its batches. Poll `GET /v1/jobs/{id}` for progress. "
        "Only folders under MMRAG_JOBS__SOURCE_ROOTS may be read."
    ),
)
def submit_job(
    body: JobSubmission, state: State, jobs: Jobs, tenant: Tenant, response: Response
) -> JobView:
    request = JobRequest(
        sources=tuple(body.sources),
        manifest=body.manifest,
        recursive=body.recursive,
        collection_prefix=body.collection_prefix,
    )
    job = jobs.submit(request, tenant=tenant, roots=state.settings.jobs.source_roots)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return jobs.view(job)


@router.get("/{job_id}", response_model=JobView, summary="A job's state and progress")
def get_job(job_id: str, jobs: Jobs, tenant: Tenant) -> JobView:
    return jobs.view(jobs.get(job_id, tenant=tenant))


@router.get("", response_model=JobList, summary="The caller's jobs, newest first")
def list_jobs(
    jobs: Jobs,
    tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    state: Annotated[JobState | None, Query(description="Only jobs in this state")] = None,
) -> JobList:
    found = jobs.list(tenant=tenant, limit=limit, state=state)
    return JobList(jobs=[jobs.summary(job) for job in found])


@router.delete(
    "/{job_id}",
    status_code=202,
    response_model=JobView,
    summary="Cancel a job",
    description=(
        "Batches not begun are dropped at once; a running batch stops at its next file (what "
        "it finished stays indexed, nothing half-indexed is visible). The job turns "
        "`cancelled` when its running batches have stopped. A finished job is left as it is."
    ),
)
def cancel_job(job_id: str, jobs: Jobs, tenant: Tenant) -> JobView:
    return jobs.view(jobs.cancel(job_id, tenant=tenant))
