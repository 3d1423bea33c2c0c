"""The ``mmrag`` command line. Heavy libraries are imported inside commands, never at import
time, so ``mmrag --help`` answers instantly."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag import __version__
from rag.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    domain_errors,
    runtime,
    setup,
)

if TYPE_CHECKING:
    from rag.cli.remote import RemoteService
    from rag.settings import Settings

app = typer.Typer(
    name="mmrag",
    help="Multimodal search over text, images and speech, and a SOAP-to-REST bridge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    from rag.models import MODEL_KINDS
    from rag.models.probe import probe_all

    parts = runtime()
    kinds = tuple(kind or MODEL_KINDS)
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown:
        typer.echo(f"error: unknown model kind(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    registry = parts.models
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
        raise typer.Exit(EXIT_FAILED)


@app.command()
@domain_errors
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

    from rag.cli.progress import RichIndexProgress, print_summary

    console = Console(stderr=True)
    parts = runtime(None if as_json else console)
    if _routed(parts.settings, tenant) is not None:
        from rag.cli.remote_index import index_via_service

        index_via_service(
            parts.settings,
            paths,
            tenant=tenant,
            recursive=recursive,
            dry_run=dry_run,
            as_json=as_json,
        )
        return
    with parts:
        if as_json:
            report = parts.indexer().index_paths(
                paths, tenant=tenant, recursive=recursive, dry_run=dry_run
            )
        else:
            with RichIndexProgress(console) as progress:
                report = parts.indexer(listener=progress).index_paths(
                    paths, tenant=tenant, recursive=recursive, dry_run=dry_run
                )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        print_summary(Console(), report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
@domain_errors
def delete(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders (every source under them) or upload://name.")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant the sources belong to.")] = "default",
) -> None:
    """Remove sources and all of their units from the index."""
    from rag.cli.sources import delete_sources

    delete_sources(sources, tenant)


@app.command()
@domain_errors
def search(
    query: Annotated[
        str | None, typer.Argument(help="Query text (optional with --image/--audio).")
    ] = None,
    image: Annotated[Path | None, typer.Option(help="Query image file.")] = None,
    audio: Annotated[Path | None, typer.Option(help="Query audio clip (transcribed).")] = None,
    modality: Annotated[
        list[str] | None, typer.Option("--modality", "-m", help="text, image or audio (repeat).")
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", help="Results to return (MMRAG_SEARCH__DEFAULT_K).")
    ] = None,
    rerank_depth: Annotated[int | None, typer.Option(help="Candidates to rerank (0: off).")] = None,
    source_prefix: Annotated[
        str | None, typer.Option(help="Only sources under this folder.")
    ] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="Payload filter key=value (repeat).")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant to search.")] = "default",
    explain: Annotated[bool, typer.Option(help="Include each stage's scores.")] = False,
    offset: Annotated[int, typer.Option(help="Skip this many results (pagination).")] = 0,
    min_score: Annotated[
        float | None, typer.Option(help="Drop results scored below this (0-1).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search text, images and speech with a text, image or audio query."""
    from rag.errors import BadInputError
    from rag.search.request import SearchFilters, SearchRequest
    from rag.types import Modality

    parts = runtime()
    settings = parts.settings
    try:
        modalities = tuple(Modality(m) for m in modality) if modality else tuple(Modality)
    except ValueError as exc:
        raise BadInputError(f"unknown modality: {exc}") from exc
    fields: dict[str, Any] = {}
    for item in filter_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise BadInputError(f"--filter {item!r}: use key=value")
        fields[key] = int(value) if value.lstrip("-").isdigit() else value
    request = SearchRequest(
        text=query,
        image=_read_file(image),
        audio=_read_file(audio),
        k=settings.search.default_k if k is None else k,
        rerank_depth=settings.search.rerank_depth if rerank_depth is None else rerank_depth,
        filters=SearchFilters(modalities=modalities, source_prefix=source_prefix, fields=fields),
        explain=explain,
        offset=offset,
        min_score=min_score,
    )
    remote = _routed(settings, tenant)
    if remote is not None:
        with remote:
            response = remote.search(
                {
                    "text": query,
                    "k": request.k,
                    "rerank_depth": request.rerank_depth,
                    "modalities": [m.value for m in modalities],
                    "source_prefix": source_prefix,
                    "filters": fields or None,
                    "explain": explain,
                    "offset": offset,
                    "min_score": min_score,
                },
                request.image,
                request.audio,
            )
    else:
        with parts:
            response = parts.searcher().search(request, tenant=tenant)
    if as_json:
        keep = {"id", "modality", "score", "source", "locator", "snippet"}
        if explain:
            keep.add("explain")
        results = [
            h.model_dump(include=keep, exclude_none=True)
            | {"locator": h.locator.model_dump(exclude_none=True)}
            for h in response.results
        ]
        typer.echo(json.dumps({"results": results, "timings_ms": response.timings_ms}, indent=2))
        return
    _print_hits(response)


def _routed(settings: Settings, tenant: str) -> RemoteService | None:
    """The running service that owns this data dir's store, if any (then work goes to it)."""
    from rag.cli.remote import remote_service

    return remote_service(settings, tenant)


def _read_file(path: Path | None) -> bytes | None:
    from rag.errors import BadInputError

    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _print_hits(response: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for warning in response.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if response.query.transcript:
        console.print(f"transcript: {response.query.transcript!r}")
    table = Table(
        title=f"{len(response.results)} result(s) in {response.timings_ms['total']:.0f} ms"
    )
    for column in ("#", "score", "modality", "source", "where", "snippet"):
        table.add_column(column, overflow="fold")
    for i, hit in enumerate(response.results, 1):
        loc = hit.locator
        if loc.start_s is not None:
            where = f"{loc.start_s:.1f}-{loc.end_s:.1f}s"
        elif loc.page is not None:
            where = f"page {loc.page}"
        elif loc.char_start is not None:
            where = f"chars {loc.char_start}-{loc.char_end}"
        else:
            where = ""
        table.add_row(
            str(i), f"{hit.score:.3f}", hit.modality, hit.source_name, where, hit.snippet[:120]
        )
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    from rag.api import create_app
    from rag.endpoint import connect_url

    settings = setup()
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    app = create_app(settings)
    # recorded in the data dir once the store is open, so the CLI sends its work here
    app.state.listen_url = connect_url(bind_host, bind_port)
    typer.echo(
        f"mmrag serving on {app.state.listen_url} (API docs: {app.state.listen_url}/docs; "
        f"data dir {settings.data_dir}); Ctrl+C stops it",
        err=True,
    )
    uvicorn.run(app, host=bind_host, port=bind_port, log_config=None)


def _register_subcommands() -> None:
    from rag.cli.bridge import bridge_app
    from rag.cli.eval_cmd import calibrate, eval_app
    from rag.cli.jobs import jobs_app, worker_command
    from rag.cli.sources import sources_app
    from rag.cli.translate import register

    app.add_typer(eval_app, name="eval")
    app.add_typer(bridge_app, name="bridge")
    app.command()(domain_errors(calibrate))
    register(app)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(sources_app, name="sources")
    app.command("worker")(worker_command)


_register_subcommands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
