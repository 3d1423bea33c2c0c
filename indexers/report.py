"""What an indexing run did, per file and per modality."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rag.types import Modality


class FileStatus(enum.StrEnum):
    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"  # found in a folder walk but not a type mmrag indexes


@dataclass(frozen=True)
class FileResult:
    path: str
    modality: Modality | None
    status: FileStatus
    units: int = 0
    reason: str | None = None
    source: str | None = None
    warnings: tuple[str, ...] = ()  # indexed, but something the operator should know


@dataclass
class IndexReport:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    def by_status(self, status: FileStatus) -> list[FileResult]:
        return [r for r in self.results if r.status is status]

    def counts(self, status: FileStatus) -> dict[str, int]:
        counter = Counter(r.modality.value for r in self.by_status(status) if r.modality)
        return {m.value: counter.get(m.value, 0) for m in Modality}

    def units(self) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for r in self.by_status(FileStatus.INDEXED):
            if r.modality:
                counter[r.modality.value] += r.units
        return {m.value: counter.get(m.value, 0) for m in Modality}

    @property
    def ok(self) -> bool:
        return not self.by_status(FileStatus.FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "indexed": self.counts(FileStatus.INDEXED),
            "unchanged": self.counts(FileStatus.UNCHANGED),
            "failed": [
                {"path": r.path, "reason": r.reason} for r in self.by_status(FileStatus.FAILED)
            ],
            "skipped": [
                {"path": r.path, "reason": r.reason} for r in self.by_status(FileStatus.SKIPPED)
            ],
            "warnings": [{"path": r.path, "warning": w} for r in self.results for w in r.warnings],
            "units": self.units(),
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
        }


class ProgressListener(Protocol):
    """Receives progress while a run goes on (the CLI draws bars from it)."""

    def run_started(self, total_files: int) -> None: ...

    def file_discovered(self, path: str) -> None: ...

    def file_finished(self, result: FileResult) -> None: ...

    def units_written(self, modality: Modality, count: int) -> None: ...


@runtime_checkable
class UnitListener(Protocol):
    """Optional: told of each unit as it is read, before it is embedded in a batch (so a
    progress display moves per unit instead of per flushed batch)."""

    def unit_read(self, modality: Modality) -> None: ...


@runtime_checkable
class WriteListener(Protocol):
    """Optional: told just before the units of a file that was read ahead (images decoded and
    OCR'd on the pool) are buffered for writing. Raising there stops the run before anything
    of that file is written: a job runner checks for a stop or a cancel, as it does when a
    file is discovered."""

    def file_writing(self, path: str) -> None: ...


class NullListener:
    def run_started(self, total_files: int) -> None:
        return None

    def file_discovered(self, path: str) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        return None

    def units_written(self, modality: Modality, count: int) -> None:
        return None
