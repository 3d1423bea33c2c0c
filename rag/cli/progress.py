"""Live progress for indexing runs: files, units and per-modality throughput."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from indexers.report import FileResult, FileStatus, IndexReport
from rag.types import Modality

if TYPE_CHECKING:
    from rich.console import Console


class RichIndexProgress:
    """A :class:`~indexers.report.ProgressListener` drawing a rich progress display."""

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
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rates]}"),
            console=console,
            transient=False,
        )
        self._task: Any = None
        self._started = time.perf_counter()
        self._units = {m: 0 for m in Modality}
        self._first_unit: dict[Modality, float] = {}

    def __enter__(self) -> RichIndexProgress:
        self._progress.start()
        self._task = self._progress.add_task("files", total=None, rates="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def run_started(self, total_files: int) -> None:
        self._progress.update(self._task, total=total_files)

    def file_discovered(self, path: str) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        self._progress.advance(self._task)
        if result.status is FileStatus.FAILED:
            self._progress.console.print(f"[red]failed[/] {result.path}: {result.reason}")

    def units_written(self, modality: Modality, count: int) -> None:
        now = time.perf_counter()
        self._first_unit.setdefault(modality, self._started)
        self._units[modality] += count
        rates = []
        for m in Modality:
            if self._units[m]:
                elapsed = max(now - self._first_unit[m], 1e-6)
                rates.append(f"{m.value} {self._units[m]} ({self._units[m] / elapsed:.1f}/s)")
        self._progress.update(self._task, rates=" · ".join(rates))


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
    other = [r for r in report.by_status(FileStatus.FAILED) if r.modality is None]
    skipped = report.by_status(FileStatus.SKIPPED)
    for r in other:
        console.print(f"[red]failed[/] {r.path}: {r.reason}")
    if skipped:
        console.print(f"skipped {len(skipped)} file(s) of unsupported types")
