"""The ``mmrag`` command line. Heavy libraries are imported inside commands, never at import
time, so ``mmrag --help`` answers instantly."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from rag import __version__

if TYPE_CHECKING:
    from rag.settings import Settings

app = typer.Typer(
    name="mmrag",
    help="Multimodal search over text, images and speech, and a SOAP-to-REST bridge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


F = TypeVar("F", bound=Callable[..., Any])

# Exit codes: 0 success, 1 some input failed, 2 usage error, 3 mmrag could not run.
EXIT_FAILED, EXIT_USAGE, EXIT_ERROR = 1, 2, 3


def _domain_errors(func: F) -> F:
    """Turn mmrag's errors into a one-line message on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rag.errors import BadInputError, MmragError

        try:
            return func(*args, **kwargs)
        except MmragError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(EXIT_USAGE if isinstance(exc, BadInputError) else EXIT_ERROR) from exc

    return wrapper  # type: ignore[return-value]


def _settings_and_logging(console: Any = None) -> Settings:
    from rag.logging_setup import configure_logging
    from rag.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, console=console)
    return settings


@app.command()
def version() -> None:
    """Print the mmrag version."""
    typer.echo(__version__)


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", help="Only these kinds: text, whisper, ocr, clip, llm."),
    ] = None,
) -> None:
    """List every configured model, where it comes from, and prove it loads by using it."""
    from rag.models import MODEL_KINDS, ModelRegistry
    from rag.models.probe import probe_all

    settings = _settings_and_logging()
    kinds = tuple(kind or MODEL_KINDS)
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown:
        typer.echo(f"error: unknown model kind(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    registry = ModelRegistry(settings)
    if as_json:
        reports = probe_all(registry, kinds)  # type: ignore[arg-type]
    else:
        from rich.console import Console

        with Console(stderr=True).status("loading and probing models..."):
            reports = probe_all(registry, kinds)  # type: ignore[arg-type]
    if as_json:
        out = [
            {k: v for k, v in asdict(r).items() if k in ("name", "kind", "source", "ok", "detail")}
            | {"seconds": r.seconds}
            for r in reports
        ]
        typer.echo(json.dumps({"models": out}, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="mmrag models")
        for column in ("kind", "name", "source", "ok", "detail", "seconds"):
            table.add_column(column, overflow="fold")
        for r in reports:
            mark = "[green]yes[/]" if r.ok else "[red]NO[/]"
            table.add_row(r.kind, r.name, r.source, mark, r.detail, f"{r.seconds:.1f}")
        Console().print(table)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command()
@_domain_errors
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to index.")],
    tenant: Annotated[str, typer.Option(help="Tenant the sources belong to.")] = "default",
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", "-r", help="Descend into sub-folders.")
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be indexed; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Index text, images and speech into the configured store.

    Unchanged files are skipped without calling a model; changed files replace their old
    units. Exit code 0 when every file succeeded, 1 when any failed."""
    from rich.console import Console

    from indexers.pipeline import Indexer
    from rag.cli.progress import RichIndexProgress, print_summary
    from rag.models import ModelRegistry
    from rag.store import open_store

    console = Console(stderr=True)
    settings = _settings_and_logging(None if as_json else console)
    store = open_store(settings)
    try:
        if as_json:
            report = Indexer(settings, ModelRegistry(settings), store).index_paths(
                paths, tenant=tenant, recursive=recursive, dry_run=dry_run
            )
        else:
            with RichIndexProgress(console) as progress:
                indexer = Indexer(settings, ModelRegistry(settings), store, listener=progress)
                report = indexer.index_paths(
                    paths, tenant=tenant, recursive=recursive, dry_run=dry_run
                )
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        print_summary(Console(), report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
@_domain_errors
def delete(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders (every source under them) or upload://name.")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant the sources belong to.")] = "default",
) -> None:
    """Remove sources and all of their units from the index."""
    from indexers.pipeline import Indexer
    from rag.models import ModelRegistry
    from rag.store import open_store

    settings = _settings_and_logging()
    store = open_store(settings)
    try:
        deleted = Indexer(settings, ModelRegistry(settings), store).delete_sources(
            sources, tenant=tenant
        )
    finally:
        store.close()
    typer.echo(f"deleted {deleted} unit(s)")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    from rag.api import create_app

    settings = _settings_and_logging()
    uvicorn.run(
        create_app(settings),
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_config=None,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
