"""``mmrag bridge add|list|remove|call``: the SOAP-to-REST bridge's registry and calls.

The registry is the same file the HTTP service reads (``<data_dir>/bridge/services.json``;
a running service sees changes on its next call). ``call`` runs the bridge in-process, the
same path as ``POST /v1/bridge/{service}/{operation}``.
Exit codes are those of every command (:mod:`rag.cli.common`): 2 bad request (schema-invalid
JSON, unknown service or operation, a WSDL that cannot be used), 4 SOAP fault (printed as
JSON on stderr), 5 upstream failure (timeout, unreachable, invalid reply, overloaded).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.common import EXIT_USAGE, fail, runtime

bridge_app = typer.Typer(
    name="bridge",
    help="Register SOAP services and call them as JSON (the SOAP-to-REST bridge).",
    no_args_is_help=True,
)


@bridge_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Service name (a-z, 0-9, - and _).")],
    wsdl: Annotated[str, typer.Argument(help="WSDL file, or an allow-listed http(s) URL.")],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Upstream URL (overrides soap:address).")
    ] = None,
    port: Annotated[str | None, typer.Option("--port", help="WSDL port to bind.")] = None,
    idempotent: Annotated[
        list[str] | None,
        typer.Option("--idempotent", "-i", help="Operation safe to retry (repeat)."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds per upstream attempt.")
    ] = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", help="Seconds to connect.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", help="Calls in flight to this upstream.")
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries for idempotent operations.")
    ] = None,
    basic_user: Annotated[
        str | None, typer.Option("--basic-user", help="HTTP basic auth user (password: stdin).")
    ] = None,
    wsse_user: Annotated[
        str | None,
        typer.Option("--wsse-user", help="WS-Security UsernameToken user (password: stdin)."),
    ] = None,
    wsse_digest: Annotated[
        bool, typer.Option("--wsse-digest", help="Send a PasswordDigest, not PasswordText.")
    ] = False,
    target_schema: Annotated[
        list[str] | None,
        typer.Option(
            "--target-schema", help="OPERATION=schema.json: map that reply to it (repeat)."
        ),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Shown in the docs.")] = "",
    tenants: Annotated[
        list[str] | None,
        typer.Option(
            "--tenant",
            "-t",
            help="Tenant (API-key name) that may call it (repeat; '*': every tenant, not "
            "with credentials). Default: the default tenant only.",
        ),
    ] = None,
) -> None:
    """Register (or replace) a SOAP service; prints its operations.

    A password for --basic-user or --wsse-user is read from the first line of standard input,
    never from the command line."""
    from pydantic import ValidationError

    from rag.errors import MmragError
    from translators.bridge.spec import ServiceSpec

    parts = runtime()
    if basic_user and wsse_user:
        typer.echo("error: choose --basic-user or --wsse-user, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not wsdl.startswith(("http://", "https://")):
        wsdl = str(Path(wsdl).expanduser().resolve())
    fields: dict[str, Any] = {
        "name": name,
        "wsdl": wsdl,
        "endpoint": endpoint,
        "port": port,
        "timeout_s": timeout,
        "connect_timeout_s": connect_timeout,
        "max_concurrency": max_concurrency,
        "retries": retries,
        "idempotent": tuple(idempotent or ()),
        "description": description,
        "target_schemas": _target_schemas(target_schema or []),
        "tenants": tuple(tenants) if tenants else None,
    }
    user = basic_user or wsse_user
    if user:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            typer.echo("error: give the password on standard input", err=True)
            raise typer.Exit(EXIT_USAGE)
        fields["auth"] = {
            "kind": "basic" if basic_user else "wsse",
            "username": user,
            "password": password,
        } | ({"digest": True} if wsse_digest else {})
    try:
        spec = ServiceSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    bridge = parts.bridge()
    try:
        loaded = bridge.load_sync(spec)
        replaced = bridge.registry.put(spec)
    except MmragError as exc:
        raise fail(exc) from None
    verb = "replaced" if replaced else "added"
    typer.echo(f"{verb} {name}: {len(loaded.operations)} operation(s) at {loaded.address}")
    typer.echo(f"  tenants: {', '.join(spec.public()['tenants'])}")
    for operation in sorted(loaded.operations):
        mark = " (idempotent)" if loaded.operations[operation].idempotent else ""
        typer.echo(f"  POST /v1/bridge/{name}/{operation}{mark}")


def _target_schemas(items: list[str]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for item in items:
        operation, sep, file = item.partition("=")
        if not sep or not operation or not file:
            typer.echo(f"error: --target-schema {item!r}: use OPERATION=schema.json", err=True)
            raise typer.Exit(EXIT_USAGE)
        try:
            schemas[operation] = json.loads(Path(file).read_bytes())
        except (OSError, ValueError) as exc:
            typer.echo(f"error: cannot read the JSON Schema {file}: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    return schemas


@bridge_app.command("list")
def list_services(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Registered services and their operations."""
    from rag.errors import MmragError

    parts = runtime()
    bridge = parts.bridge()
    try:
        specs = bridge.registry.all()
    except MmragError as exc:
        raise fail(exc) from None
    out = []
    for name, spec in sorted(specs.items()):
        entry: dict[str, Any] = spec.public() | {"source": bridge.registry.source(name)}
        try:
            loaded = bridge.load_sync(spec)
            entry["operations"] = sorted(loaded.operations)
            entry["address"] = loaded.address
        except MmragError as exc:
            entry["error"] = exc.detail
        out.append(entry)
    if as_json:
        typer.echo(json.dumps({"services": out}, indent=2))
        return
    if not out:
        typer.echo("no services registered (mmrag bridge add NAME WSDL)")
    for entry in out:
        where = entry.get("address") or entry.get("error")
        typer.echo(f"{entry['name']}  {where}  tenants: {', '.join(entry['tenants'])}")
        idempotent = set(entry.get("idempotent", ()))
        for operation in entry.get("operations", []):
            typer.echo(f"  {operation}{' (idempotent)' if operation in idempotent else ''}")


@bridge_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Service name.")]) -> None:
    """Remove a registered service."""
    from rag.errors import MmragError

    parts = runtime()
    try:
        parts.bridge().registry.remove(name)
    except MmragError as exc:
        raise fail(exc) from None
    typer.echo(f"removed {name}")


@bridge_app.command("call")
def call(
    name: Annotated[str, typer.Argument(help="Service name.")],
    operation: Annotated[str, typer.Argument(help="Operation name.")],
    body: Annotated[
        str, typer.Argument(help="The JSON request; @file reads a file, - reads stdin.")
    ],
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Replay a stored response.")
    ] = None,
    tenant: Annotated[
        str, typer.Option(help="Call on behalf of this tenant (the service must name it).")
    ] = "default",
) -> None:
    """Call an operation with JSON; prints the translated reply."""
    from rag.errors import MmragError

    parts = runtime()
    if body == "-":
        data = sys.stdin.buffer.read()
    elif body.startswith("@"):
        try:
            data = Path(body[1:]).read_bytes()
        except OSError as exc:
            typer.echo(f"error: cannot read {body[1:]}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    else:
        data = body.encode()

    async def run() -> Any:
        bridge = parts.bridge()
        try:
            return await bridge.call(
                name, operation, data, tenant=tenant, idempotency_key=idempotency_key
            )
        finally:
            await bridge.aclose()

    try:
        result = asyncio.run(run())
    except MmragError as exc:
        raise fail(exc) from None
    if result.replayed:
        typer.echo("(replayed for this idempotency key)", err=True)
    typer.echo(result.body.decode())
