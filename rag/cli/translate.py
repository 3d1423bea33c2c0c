"""``mmrag translate``, ``mmrag translate-schema`` and ``mmrag mapping propose|test|show``.

Everything heavy (lxml, jsonschema, the translator, the LLM) is imported inside the commands.
Exit codes are those of every command (:mod:`rag.cli.common`): 2 bad or hostile input
(including a message that does not fit its operation), 4 the message is a SOAP Fault
(printed as JSON on stderr), 6 the mapping does not validate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from rag.cli.common import EXIT_INVALID_MAPPING, EXIT_USAGE, fail, runtime

if TYPE_CHECKING:
    from translators.service import TranslatorService

mapping_app = typer.Typer(
    name="mapping",
    help="Propose, test and show mappings from translated SOAP messages to a target JSON Schema.",
    no_args_is_help=True,
)

WsdlOption = Annotated[
    Path | None,
    typer.Option("--wsdl", help="WSDL (or XSD) describing the message; omit for schema-less mode."),
]
OperationOption = Annotated[
    str | None,
    typer.Option(
        "--operation", "-o", help="Operation name (or binding/name); inferred if omitted."
    ),
]
DirectionOption = Annotated[
    str | None,
    typer.Option(
        "--direction", "-d", help="input (request) or output (response); inferred if omitted."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("translate")(translate)
    app.command("translate-schema")(translate_schema)
    app.add_typer(mapping_app)


def _service() -> TranslatorService:
    return runtime().translator()


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _json_file(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except ValueError as exc:
        typer.echo(f"error: {path} is not JSON: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _direction(value: str | None) -> Any:
    if value not in (None, "input", "output"):
        typer.echo("error: --direction must be input or output", err=True)
        raise typer.Exit(EXIT_USAGE)
    return value


def translate(
    file: Annotated[
        Path, typer.Argument(help="XML message (SOAP envelope, bare or MTOM); - for stdin.")
    ],
    wsdl: WsdlOption = None,
    operation: OperationOption = None,
    direction: DirectionOption = None,
    target_schema: Annotated[
        Path | None,
        typer.Option(
            "--target-schema", help="Map to this JSON Schema (a saved or proposed mapping)."
        ),
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Per-message LLM mode (needs --target-schema).")
    ] = False,
    schemaless_fallback: Annotated[
        bool,
        typer.Option(
            "--fallback",
            help="A message that does not fit becomes flagged schema-less JSON "
            "(= --on-mismatch schemaless).",
        ),
    ] = False,
    on_mismatch: Annotated[
        str | None,
        typer.Option(
            "--on-mismatch",
            help="A message that does not fit its WSDL: declare (default: typed, deviations "
            "listed), error (refuse) or schemaless.",
        ),
    ] = None,
    always_arrays: Annotated[
        bool,
        typer.Option("--always-arrays", help="Schema-less mode: every child element is an array."),
    ] = False,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Content-Type of a multipart (MTOM) message."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole translation result as JSON on stdout.")
    ] = False,
) -> None:
    """Translate an XML/SOAP message to JSON (typed with --wsdl, schema-less without)."""
    from rag.errors import MmragError
    from translators.convert.jsonout import dumps
    from translators.service import TranslateOptions, WsdlRef

    service = _service()
    options = TranslateOptions(
        operation=operation,
        direction=_direction(direction),
        content_type=content_type,
        on_mismatch="schemaless" if schemaless_fallback else _on_mismatch(on_mismatch),
        arrays="always" if always_arrays else "auto",
        target_schema=_json_file(target_schema) if target_schema else None,
        mode="llm" if llm else "deterministic",
    )
    try:
        result = service.translate(_read(file), WsdlRef(path=wsdl) if wsdl else None, options)
    except MmragError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(dumps(result.as_dict()))
        return
    typer.echo(dumps(result.data, pretty=True))
    where = f"{result.operation} ({result.direction})" if result.operation else result.mode
    typer.echo(f"{where}: {result.schema_id}", err=True)
    for fallback in result.fallbacks:
        typer.echo(f"fallback {fallback.kind}: {fallback.reason}", err=True)
    for deviation in result.deviations:
        where = ("headers:" if deviation.part == "headers" else "") + deviation.pointer
        typer.echo(
            f"deviation {deviation.kind} at {where}: expected {deviation.expected}, "
            f"found {deviation.found}",
            err=True,
        )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)


def _on_mismatch(value: str | None) -> Literal["declare", "error", "schemaless"] | None:
    if value is None:
        return None
    if value == "declare":
        return "declare"
    if value == "error":
        return "error"
    if value == "schemaless":
        return "schemaless"
    raise typer.BadParameter("--on-mismatch must be declare, error or schemaless")


def translate_schema(
    wsdl: Annotated[Path, typer.Argument(help="WSDL (or XSD) file.")],
    operation: OperationOption = None,
    direction: DirectionOption = None,
) -> None:
    """Print the JSON Schema of an operation message, or list the operations."""
    from rag.errors import MmragError
    from translators.convert.jsonout import dumps
    from translators.service import WsdlRef

    service = _service()
    try:
        compiled = service.load(WsdlRef(path=wsdl))
        if operation is None:
            listing = [
                {
                    "operation": op.name,
                    "binding": op.binding,
                    "style": op.style,
                    "soap": op.soap_version,
                }
                for op in compiled.operations
            ]
            typer.echo(
                dumps(
                    {
                        "operations": listing,
                        "problems": [p.as_dict() for p in compiled.loaded.problems],
                    },
                    pretty=True,
                )
            )
            return
        op = compiled.operation(operation)
        typer.echo(
            dumps(compiled.message(op, _direction(direction) or "output").schema, pretty=True)
        )
    except MmragError as exc:
        raise fail(exc) from None


@mapping_app.command("propose")
def mapping_propose(
    samples: Annotated[list[Path], typer.Argument(help="Sample XML messages of the operation.")],
    target_schema: Annotated[Path, typer.Option("--target-schema", help="Target JSON Schema.")],
    wsdl: WsdlOption = None,
    operation: OperationOption = None,
    direction: DirectionOption = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Name similarity only.")] = False,
) -> None:
    """Ask the LLM for a mapping, check and repair it on the samples, save it, report."""
    from rich.console import Console

    from rag.errors import MmragError
    from translators.convert.jsonout import dumps
    from translators.mapping.workflow import propose_from_samples
    from translators.service import TranslateOptions, WsdlRef

    service = _service()
    options = TranslateOptions(operation=operation, direction=_direction(direction))
    try:
        with Console(stderr=True).status("translating samples and asking the LLM..."):
            outcome = propose_from_samples(
                service,
                [_read(p) for p in samples],
                WsdlRef(path=wsdl) if wsdl else None,
                options,
                _json_file(target_schema),
                use_llm=not no_llm,
                max_samples=service.config.max_samples,
            )
    except MmragError as exc:
        raise fail(exc) from None
    typer.echo(dumps(outcome, pretty=True))
    if not outcome["valid_on_samples"]:
        raise typer.Exit(EXIT_INVALID_MAPPING)


@mapping_app.command("test")
def mapping_test(
    mapping: Annotated[
        Path, typer.Argument(help="A mapping file (as saved by propose, maybe edited).")
    ],
    samples: Annotated[list[Path], typer.Argument(help="Sample XML messages.")],
    wsdl: WsdlOption = None,
    operation: OperationOption = None,
    direction: DirectionOption = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save it as the next version when it passes.")
    ] = False,
) -> None:
    """Apply a mapping file to samples and validate the output against its target schema."""
    from rag.errors import MmragError
    from translators.convert.jsonout import dumps
    from translators.mapping.workflow import check_mapping_file
    from translators.service import TranslateOptions, WsdlRef

    service = _service()
    options = TranslateOptions(operation=operation, direction=_direction(direction))
    try:
        outcome = check_mapping_file(
            service,
            mapping,
            [_read(p) for p in samples],
            WsdlRef(path=wsdl) if wsdl else None,
            options,
            save=save,
        )
    except MmragError as exc:
        raise fail(exc) from None
    typer.echo(dumps(outcome, pretty=True))
    if not outcome["valid"]:
        raise typer.Exit(EXIT_INVALID_MAPPING)


@mapping_app.command("show")
def mapping_show(
    key: Annotated[str, typer.Argument(help="A mapping key (or a mapping file path).")],
    version: Annotated[int | None, typer.Option(help="A version (default: the latest).")] = None,
) -> None:
    """Print a saved mapping: its rules and how they were made."""
    from rag.errors import MmragError
    from translators.convert.jsonout import dumps
    from translators.mapping.workflow import show_mapping

    service = _service()
    try:
        typer.echo(dumps(show_mapping(service, key, version), pretty=True))
    except MmragError as exc:
        raise fail(exc) from None
