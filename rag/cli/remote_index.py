"""``mmrag index`` while a service owns the store: the files become a job that the service
runs (through the data dir's job ledger, as ``mmrag jobs submit`` does), watched here with
progress; the summary and the exit code are those of a local ``mmrag index``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import BadInputError

if TYPE_CHECKING:
    from rag.settings import Settings


def index_via_service(
    settings: Settings,
    paths: list[Path],
    *,
    tenant: str,
    recursive: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    from rich.console import Console

    from rag.cli.jobs import _finish, _watch
    from rag.jobs import JobRequest, client_service

    if dry_run:
        raise BadInputError(
            "--dry-run reads the store, which a running `mmrag serve` owns: stop it, or index "
            "without --dry-run (unchanged files are skipped anyway)"
        )
    console = Console(stderr=True)
    service = client_service(settings)
    try:
        request = JobRequest(sources=tuple(str(p.absolute()) for p in paths), recursive=recursive)
        job = service.submit(request, tenant=tenant)
        if not as_json:
            console.print(
                f"a running service owns the store: indexing there as job [bold]{job.id}[/]"
            )
        final = _watch(service, job.id, console=None if as_json else console)
        _finish(service, final, as_json=as_json, summary=True)
    finally:
        service.close()
