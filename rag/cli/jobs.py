"""``mmrag jobs submit|status|list|cancel`` and ``mmrag worker``.

Imported by :mod:`rag.cli.main` at start-up, so only typer is imported at module level;
everything else (the ledger, Celery, models) is imported inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rag.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    domain_errors,
    setup,
)

if TYPE_CHECKING:
    from rich.console import Console

    from rag.jobs import JobRecord, JobService, JobView
    from rag.jobs.local import LocalExecutor
    from rag.settings import Settings

jobs_app = typer.Typer(
    name="jobs",
    help="Batch indexing jobs: submit, watch, list, cancel (see docs/jobs.md).",
    no_args_is_help=True,
)

POLL_S = 0.5


# -- mmrag worker --------------------------------------------------------------------------------
@domain_errors
def worker_command(
    pool: Annotated[
        str,
        typer.Option(
            help="solo (one task at a time; the GPU default), threads (tasks share the "
            "process's models and store), or prefork (server store backend only)."
        ),
    ] = "solo",
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Tasks at a time (threads / prefork pools).")
    ] = 1,
) -> None:
    """Run a Celery worker for batch jobs (needs MMRAG_JOBS__BROKER_URL).

    Models load once per worker process, on MMRAG_MODELS__DEVICE. Run one worker per GPU
    (CUDA_VISIBLE_DEVICES=N mmrag worker). The embedded store admits one worker process."""
    settings = setup()
    if not settings.jobs.broker_url:
        typer.echo(
            "error: no broker configured: set MMRAG_JOBS__BROKER_URL=redis://HOST:6379/0. "
            "Without one, `mmrag serve` (or `mmrag jobs submit`) runs jobs itself.",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    from rag.jobs.celery_app import start_worker

    code = start_worker(settings, pool=pool, concurrency=concurrency, loglevel=settings.log_level)
    raise typer.Exit(code)


# -- mmrag jobs submit ---------------------------------------------------------------------------
@jobs_app.command()
@domain_errors
def submit(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files, folders or glob patterns ('**' recurses).")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="A text file listing one path or glob per line.")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant the sources belong to.")] = "default",
    collection_prefix: Annotated[
        str | None, typer.Option(help="Write to <prefix>_text/_image/_audio instead.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", "-r", help="Descend into sub-folders.")
    ] = True,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the end, with progress.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: the job (or, with --wait, the summary `mmrag index --json` prints).",
        ),
    ] = False,
) -> None:
    """Submit a batch indexing job.

    With a broker (MMRAG_JOBS__BROKER_URL) the job goes to the workers. Without one, the
    process owning the embedded store runs it: a running `mmrag serve`, or this command
    itself (in the foreground) when none runs. Exit code with --wait: 0 when every file
    succeeded, 1 when any failed or the job was cancelled."""
    from rich.console import Console

    from rag.jobs import JobRequest, client_service

    console = Console(stderr=True)
    settings = setup(None if as_json else console)
    service = client_service(settings)
    request = JobRequest(
        # absolute, so the job reads the same files from any worker's working directory
        sources=tuple(str(Path(p).absolute()) for p in paths or ()),
        manifest=str(manifest.absolute()) if manifest is not None else None,
        recursive=recursive,
        collection_prefix=collection_prefix,
    )
    try:
        job = service.submit(request, tenant=tenant)
        console.print(
            f"job [bold]{job.id}[/]: {job.planned_files} file(s) to index in "
            f"{len(job.batches)} batch(es)"
            + (
                f", {job.planned_outcomes} failed or skipped already"
                if job.planned_outcomes
                else ""
            )
        )
        executor = None
        if not settings.jobs.broker_url and not job.state.terminal:
            executor = _foreground_executor(settings, service, job)
            if executor is None:
                console.print("queued: the service that owns this data dir's store runs it")
            else:
                console.print("no service runs jobs for this data dir: running it here")
        if not wait and executor is None:
            if as_json:
                typer.echo(service.view(job).model_dump_json(indent=2))
            return
        final = _watch(service, job.id, console=None if as_json else console, executor=executor)
        _finish(service, final, as_json=as_json, summary=wait)
    finally:
        service.close()


def _foreground_executor(
    settings: Settings, service: JobService, job: JobRecord
) -> LocalExecutor | None:
    """No broker and no service running jobs: this process becomes the runner for the job."""
    from rag.errors import MmragError
    from rag.jobs import JobContext
    from rag.jobs.ledger_sqlite import SqliteLedger
    from rag.jobs.local import LocalExecutor
    from rag.jobs.ownership import owner_lock
    from rag.runtime import Runtime
    from rag.store.collections import collection_name
    from rag.types import Modality

    lock = owner_lock(settings.data_dir)
    if not lock.acquire():
        return None
    assert isinstance(service.ledger, SqliteLedger)
    parts = Runtime(settings)
    store = None
    try:
        store = parts.store  # a store open in another process fails here, not mid-job
        for modality in Modality:
            name = collection_name(job.collection_prefix, modality)
            if store.collection_exists(name):
                store.info(name)
    except MmragError:
        if store is not None:
            store.close()
        service.cancel(job.id)  # nobody else can run it (we hold the runner lock)
        lock.release()
        raise
    context = JobContext(settings, parts.models, store, service.ledger)
    executor = LocalExecutor(context, service.ledger, only_job=job.id, lock=lock)
    executor.start()
    return executor


def _watch(
    service: JobService,
    job_id: str,
    *,
    console: Console | None,
    executor: LocalExecutor | None = None,
) -> JobRecord:
    """Poll the ledger until the job ends, drawing progress on ``console`` (if any).
    Ctrl-C cancels the job and waits for it to stop; a second Ctrl-C leaves at once."""
    cancelling = False
    display = _Progress(console) if console is not None else None
    try:
        while True:
            try:
                job = service.get(job_id)
                if display is not None:
                    display.update(service.view(job))
                if job.state.terminal:
                    break
                if executor is not None and executor.join(0) and executor.error is not None:
                    raise executor.error
                time.sleep(POLL_S)
            except KeyboardInterrupt:
                if cancelling:
                    raise typer.Exit(EXIT_INTERRUPTED) from None
                cancelling = True
                if console is not None:
                    console.print("cancelling (Ctrl-C again to leave now)...")
                service.cancel(job_id)
    finally:
        if display is not None:
            display.close()
        if executor is not None:
            executor.stop()
            executor.ctx.store.close()
    return job


def _finish(service: JobService, job: JobRecord, *, as_json: bool, summary: bool) -> None:
    """``summary``: JSON in the shape ``mmrag index --json`` prints, else the job's view."""
    from rich.console import Console

    from rag.cli.progress import print_summary
    from rag.jobs import JobState
    from rag.jobs.view import report_of

    report = report_of(job, service.ledger)
    if as_json:
        out = report.to_json() if summary else service.view(job).model_dump(mode="json")
        typer.echo(json.dumps(out, indent=2))
    else:
        print_summary(Console(), report)
        Console(stderr=True).print(f"job {job.id}: [bold]{job.state.value}[/]")
    if job.state is not JobState.SUCCEEDED:
        raise typer.Exit(EXIT_FAILED)


class _Progress:
    """A live bar for a job watched through the ledger (works for any runner anywhere)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            # the one column that gives way (cut short) when the terminal is narrow
            TextColumn(
                "{task.fields[detail]}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            console=console,
            expand=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("queued", total=None, detail="")
        self._reported: set[str] = set()

    def update(self, view: JobView) -> None:
        p = view.progress
        # most useful first: a narrow terminal cuts the end of this line
        detail = []
        if view.cancel_requested and not view.state.terminal:
            detail.append("cancelling")
        if p.eta_s is not None and not view.state.terminal:
            detail.append(f"ETA {p.eta_s:.0f}s")
        if p.files_in_progress:
            detail.append(f"{p.files_in_progress} in progress")
        detail += [f"{m} {n} {p.units_per_s[m]:.1f}/s" for m, n in p.units_written.items() if n]
        self._progress.update(
            self._task,
            description=view.state.value,
            total=p.files_total,
            completed=p.files_done,
            detail=" · ".join(detail),
        )
        for failure in view.failed:
            if failure.path not in self._reported:
                self._reported.add(failure.path)
                self._progress.console.print(f"[red]failed[/] {failure.path}: {failure.reason}")

    def close(self) -> None:
        self._progress.stop()


# -- status, list, cancel ------------------------------------------------------------------------
@jobs_app.command()
@domain_errors
def status(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow it until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A job's state, progress and failures."""
    from rich.console import Console

    from rag.jobs import client_service

    console = Console(stderr=True)
    settings = setup(None if as_json else console)
    service = client_service(settings)
    try:
        job = service.get(job_id)
        if watch and not job.state.terminal:
            job = _watch(service, job_id, console=None if as_json else console)
        view = service.view(job)
    finally:
        service.close()
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        _print_view(Console(), view)


@jobs_app.command("list")
@domain_errors
def list_jobs(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's jobs.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only jobs in this state (queued, running, ...).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Most jobs to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Jobs, newest first."""
    from rich.console import Console
    from rich.table import Table

    from rag.errors import BadInputError
    from rag.jobs import JobState, client_service

    settings = setup()
    try:
        wanted = JobState(state) if state else None
    except ValueError as exc:
        states = ", ".join(s.value for s in JobState)
        raise BadInputError(f"unknown state {state!r}: use one of {states}") from exc
    service = client_service(settings)
    try:
        summaries = [
            service.summary(j) for j in service.list(tenant=tenant, limit=limit, state=wanted)
        ]
    finally:
        service.close()
    if as_json:
        typer.echo(json.dumps({"jobs": [s.model_dump(mode="json") for s in summaries]}, indent=2))
        return
    table = Table(title=f"{len(summaries)} job(s)")
    for column in ("id", "tenant", "state", "files", "created", "sources"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        state_text = s.state.value + (
            " (cancelling)" if s.cancel_requested and not s.state.terminal else ""
        )
        table.add_row(
            s.id,
            s.tenant,
            state_text,
            f"{s.files_done}/{s.files_total}",
            s.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            " ".join(s.sources)[:80],
        )
    Console().print(table)


@jobs_app.command()
@domain_errors
def cancel(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has stopped.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Cancel a job: batches not begun are dropped, a running one stops at its next file."""
    from rich.console import Console

    from rag.jobs import client_service

    console = Console(stderr=True)
    settings = setup()
    service = client_service(settings)
    try:
        job = service.cancel(job_id)
        if wait and not job.state.terminal:
            job = _watch(service, job_id, console=None if as_json else console)
        view = service.view(job)
    finally:
        service.close()
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        pending = " (stopping at the next file)" if not view.state.terminal else ""
        Console().print(f"job {view.id}: {view.state.value}{pending}")


def _print_view(console: Console, view: JobView) -> None:
    from rich.table import Table

    p = view.progress
    state = view.state.value + (
        " (cancelling)" if view.cancel_requested and not view.state.terminal else ""
    )
    console.print(f"job [bold]{view.id}[/] ({view.tenant}): [bold]{state}[/]")
    console.print(
        f"files {p.files_done}/{p.files_total}"
        + (f" ({p.files_in_progress} in progress)" if p.files_in_progress else "")
        + f" · batches {p.batches_done}/{p.batches_total}"
        f" · {p.elapsed_s:.1f} s · {p.files_per_s:.2f} files/s"
        + (f" · ETA {p.eta_s:.0f} s" if p.eta_s and not view.state.terminal else "")
    )
    table = Table()
    for column in ("modality", "indexed", "unchanged", "units written", "units/s"):
        table.add_column(column, justify="left" if column == "modality" else "right")
    for modality, written in p.units_written.items():
        table.add_row(
            modality,
            str(p.indexed.get(modality, 0)),
            str(p.unchanged.get(modality, 0)),
            str(written),
            f"{p.units_per_s.get(modality, 0.0):.2f}",
        )
    console.print(table)
    for failure in view.failed:
        console.print(f"[red]failed[/] {failure.path}: {failure.reason}")
    if p.skipped:
        console.print(f"skipped {p.skipped} file(s) of unsupported types")
    if view.error:
        console.print(f"[red]error:[/] {view.error}")
