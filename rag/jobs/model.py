"""What a job is: its request, its batches and its state, as stored by a ledger.

A job is a set of sources (paths, globs, a manifest) plus options; planning turns it into a
list of files split into batches. Each batch is delivered to a runner (a Celery worker, or
the local executor) one or more times; the record below is the durable truth about it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from indexers.report import FileResult, FileStatus
from rag.types import Modality


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every file indexed or unchanged
    FAILED = "failed"  # ran to the end, but some files failed (each with its reason)
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class BatchState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # a runner began it and has not finished (or died doing it)
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (BatchState.DONE, BatchState.CANCELLED)


@dataclass(frozen=True)
class JobRequest:
    """What a caller asks for. Paths and globs are resolved by the submitting process."""

    sources: tuple[str, ...] = ()
    manifest: str | None = None
    recursive: bool = True
    collection_prefix: str | None = None  # None: the configured MMRAG_STORE__COLLECTION_PREFIX


@dataclass
class BatchRecord:
    size: int
    state: BatchState = BatchState.PENDING
    attempts: int = 0  # deliveries begun
    owner: str | None = None  # host:pid:token of the runner of the latest delivery
    lease_until: float | None = None  # the owner's heartbeat lease (epoch s) while running
    failed: int = 0  # files of this batch that failed (set when it is done)
    crashes: dict[str, int] = field(default_factory=dict)  # file -> runner deaths during it
    error: str | None = None  # the last batch-level error (a retried store failure)


@dataclass
class JobRecord:
    id: str
    tenant: str
    request: JobRequest
    collection_prefix: str
    created_at: float
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    finished_at: float | None = None
    batches: list[BatchRecord] = field(default_factory=list)
    planned_files: int = 0  # files in batches
    planned_outcomes: int = 0  # failed/skipped while planning (already final)
    planned_failed: int = 0
    cancel_requested: bool = False
    error: str | None = None

    @property
    def files_total(self) -> int:
        return self.planned_files + self.planned_outcomes

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> JobRecord:
        data: dict[str, Any] = json.loads(text)
        request = data.pop("request")
        request["sources"] = tuple(request["sources"])
        batches = [
            BatchRecord(**(b | {"state": BatchState(b["state"])})) for b in data.pop("batches")
        ]
        return cls(
            **data | {"state": JobState(data["state"])},
            request=JobRequest(**request),
            batches=batches,
        )


def result_to_json(result: FileResult) -> str:
    return json.dumps(
        {
            "path": result.path,
            "modality": result.modality.value if result.modality else None,
            "status": result.status.value,
            "units": result.units,
            "reason": result.reason,
            "source": result.source,
        },
        separators=(",", ":"),
    )


def result_from_json(text: str | bytes) -> FileResult:
    data = json.loads(text)
    return FileResult(
        path=data["path"],
        modality=Modality(data["modality"]) if data["modality"] else None,
        status=FileStatus(data["status"]),
        units=data["units"],
        reason=data["reason"],
        source=data["source"],
    )
