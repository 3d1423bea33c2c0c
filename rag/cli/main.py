"""The ``mmrag`` command line. Heavy libraries are imported inside commands, never at import
time, so ``mmrag --help`` answers instantly."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

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


def _settings_and_logging() -> Settings:
    from rag.logging_setup import configure_logging
    from rag.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
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


def _register_translator() -> None:
    from rag.cli.translate import register

    register(app)


_register_translator()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
