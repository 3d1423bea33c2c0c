"""``mmrag sources list|delete|export``: what a tenant has indexed. Through the running
service when one owns the data dir's store, else on the store directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import typer

sources_app = typer.Typer(
    help="List, export and delete what a tenant has indexed.", no_args_is_help=True
)

F = TypeVar("F", bound=Callable[..., Any])
TenantOption = Annotated[str, typer.Option(help="Tenant the sources belong to.")]


def _errors(func: F) -> F:
    from rag.cli.common import domain_errors

    return domain_errors(func)


@sources_app.command("list")
def list_command(
    tenant: TenantOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One line per source: modality, units, sha256, when it was indexed."""
    _errors(_list)(tenant, as_json)


def _list(tenant: str, as_json: bool) -> None:
    from rag.cli.common import runtime
    from rag.cli.remote import remote_service

    parts = runtime()
    settings = parts.settings
    remote = remote_service(settings, tenant)
    if remote is not None:
        with remote:
            rows = remote.list_sources()
    else:
        from rag.store.catalog import list_sources

        with parts:
            prefix = settings.store.collection_prefix
            rows = [vars(r) for r in list_sources(parts.store, prefix, tenant)]
    if as_json:
        typer.echo(json.dumps({"sources": rows, "total": len(rows)}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} source(s) of tenant {tenant}")
    for column in ("source", "modality", "units", "sha256", "indexed at"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["source"],
            row["modality"],
            str(row["units"]),
            row["sha256"][:12],
            str(row["indexed_at"] or ""),
        )
    Console().print(table)


@sources_app.command("delete")
def delete_command(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders (every source under them) or upload://name.")
    ],
    tenant: TenantOption = "default",
) -> None:
    """Remove sources and all of their units (the same as `mmrag delete`)."""
    _errors(delete_sources)(sources, tenant)


def delete_sources(sources: list[str], tenant: str) -> None:
    """``mmrag delete`` and ``mmrag sources delete``: through the running service when one
    owns the store, else on the store directly."""
    from rag.cli.common import runtime
    from rag.cli.remote import remote_service

    parts = runtime()
    remote = remote_service(parts.settings, tenant)
    if remote is not None:
        with remote:
            deleted = remote.delete(sources)
    else:
        with parts:
            deleted = parts.indexer().delete_sources(sources, tenant=tenant)
    typer.echo(f"deleted {deleted} unit(s)")


@sources_app.command("export")
def export_command(
    tenant: TenantOption = "default",
    vectors: Annotated[bool, typer.Option(help="Include the vectors.")] = False,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
) -> None:
    """Every live point of the tenant as NDJSON on stdout (payload; vectors with --vectors)."""
    _errors(_export)(tenant, vectors, source)


def _export(tenant: str, vectors: bool, source: str | None) -> None:
    from rag.cli.common import runtime
    from rag.cli.remote import remote_service

    parts = runtime()
    settings = parts.settings
    remote = remote_service(settings, tenant)
    if remote is not None:
        with remote:
            for line in remote.export(vectors=vectors, source=source):
                if line:
                    typer.echo(line)
        return
    with parts:
        prefix = settings.store.collection_prefix
        for line in _local_lines(parts.store, prefix, tenant, vectors, source):
            typer.echo(line)


def _local_lines(
    store: Any, prefix: str, tenant: str, vectors: bool, source: str | None
) -> Iterator[str]:
    from rag.api.sources import export_record
    from rag.store.catalog import iter_points, tenant_filter

    where = tenant_filter(tenant, source=source)
    for modality, point in iter_points(store, prefix, where, with_vectors=vectors):
        yield json.dumps(export_record(modality, point, vectors), ensure_ascii=False)
