"""Live progress for indexing runs: files, units and per-modality throughput."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Self

from indexers.report import FileResult, FileStatus, IndexReport
from rag.types import Modality

if TYPE_CHECKING:
    from rich.console import Console


class RichIndexProgress:
    """A :class:`~indexers.report.ProgressListener` drawing a rich progress display.

    Two lines: files (done of found) and units, which moves as each unit is read, with the
    count per modality read and written (embedded and stored) and the write rate."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<5}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
        )
        self._files: Any = None
        self._units: Any = None
        self._started = time.perf_counter()
        self._read = {m: 0 for m in Modality}
        self._written = {m: 0 for m in Modality}
        self._first_unit: dict[Modality, float] = {}
        self._failed = 0

    def __enter__(self) -> Self:
        self._progress.start()
        self._files = self._progress.add_task("files", total=None, detail="")
        self._units = self._progress.add_task("units", total=None, detail="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def run_started(self, total_files: int) -> None:
        self._progress.update(self._files, total=total_files)

    def file_discovered(self, path: str) -> None:
        self._progress.update(self._files, detail=_short(path))

    def file_finished(self, result: FileResult) -> None:
        self._progress.advance(self._files)
        if result.status is FileStatus.FAILED:
            self._failed += 1
            self._progress.console.print(f"[red]failed[/] {result.path}: {result.reason}")
            self._progress.update(self._files, detail=f"[red]{self._failed} failed[/]")
        for warning in result.warnings:
            self._progress.console.print(f"[yellow]warning[/] {result.path}: {warning}")

    def unit_read(self, modality: Modality) -> None:
        self._read[modality] += 1
        self._first_unit.setdefault(modality, time.perf_counter())
        self._update_units()

    def units_written(self, modality: Modality, count: int) -> None:
        self._first_unit.setdefault(modality, self._started)
        self._written[modality] += count
        self._update_units()

    def _update_units(self) -> None:
        now = time.perf_counter()
        parts = []
        for m in Modality:
            if self._read[m] or self._written[m]:
                elapsed = max(now - self._first_unit.get(m, self._started), 1e-6)
                parts.append(
                    f"{m.value} {self._written[m]}/{max(self._read[m], self._written[m])}"
                    f" ({self._written[m] / elapsed:.1f}/s)"
                )
        read = sum(self._read.values())
        self._progress.update(
            self._units,
            completed=sum(self._written.values()),
            total=max(read, 1),
            detail=" · ".join(parts),
        )


def _short(path: str, width: int = 48) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def print_summary(console: Console, report: IndexReport) -> None:
    from rich.table import Table

    title = "dry run: what would be indexed" if report.dry_run else "indexing summary"
    table = Table(title=f"{title} ({report.seconds:.1f} s)")
    for column in ("modality", "indexed", "unchanged", "failed", "units"):
        table.add_column(column, justify="right" if column != "modality" else "left")
    indexed, unchanged = report.counts(FileStatus.INDEXED), report.counts(FileStatus.UNCHANGED)
    units = report.units()
    failed = {m.value: 0 for m in Modality}
    for r in report.by_status(FileStatus.FAILED):
        if r.modality:
            failed[r.modality.value] += 1
    for m in Modality:
        table.add_row(
            m.value,
            str(indexed[m.value]),
            str(unchanged[m.value]),
            str(failed[m.value]),
            str(units[m.value]),
        )
    console.print(table)
    failures = report.by_status(FileStatus.FAILED)
    skipped = report.by_status(FileStatus.SKIPPED)
    if failures:  # repeated here: the live lines have scrolled past by now
        console.print(f"[red]{len(failures)} file(s) failed:[/]")
        for r in failures:
            console.print(f"  [red]failed[/] {r.path}: {r.reason}")
    warned = [r for r in report.results if r.warnings]
    if warned:
        console.print(f"[yellow]{len(warned)} file(s) indexed with a warning:[/]")
        for r in warned:
            console.print(f"  [yellow]warning[/] {r.path}: {'; '.join(r.warnings)}")
    if skipped:
        console.print(f"skipped {len(skipped)} file(s) of unsupported types")
