"""The SOAP-to-REST bridge over HTTP.

Callers (API key -> tenant, like every data route). A tenant sees, reads and calls only the
services whose record names it (``tenants``); any other is a 404, as if it did not exist:

- ``GET  /v1/bridge``                          registered services and their operations
- ``GET  /v1/bridge/{service}/openapi.json``   the service's OpenAPI 3.1 document
- ``GET  /v1/bridge/{service}/docs``           a self-contained HTML page of the same
- ``POST /v1/bridge/{service}/{operation}``    call it: JSON in, translated JSON out;
  ``Idempotency-Key`` replays the stored response (``Idempotent-Replayed: true``), or answers
  409 ``idempotency-outcome-unknown`` after a timed-out call that may have acted

Administrators (``X-Admin-Key`` = ``MMRAG_BRIDGE__ADMIN_KEY``; the routes answer 404 while no
key is configured): ``GET /v1/admin/bridge/services``, ``PUT`` and ``DELETE
/v1/admin/bridge/services/{name}``. A WSDL registered over HTTP is an allow-listed URL or a
path under ``MMRAG_TRANSLATOR__WSDL_DIR``: the admin API never reads other local files.

The routes are thin: the work is in :class:`translators.bridge.Bridge`; errors become
problem+json in :mod:`rag.api.problems`.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from rag.api.auth import Tenant
from rag.api.jsonbody import check_json_depth, decode_json
from rag.errors import AuthError, BadInputError, NotFoundError, PayloadTooLargeError

router = APIRouter(tags=["bridge"])


async def get_bridge(request: Request) -> Any:  # async: no worker-thread hop per call
    bridge = getattr(request.app.state, "bridge", None)
    if bridge is None:  # pragma: no cover - the lifespan always sets it
        raise NotFoundError("the bridge is not running")
    return bridge


Bridge = Annotated[Any, Depends(get_bridge)]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is {declared} bytes, over the limit of {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# -- callers -------------------------------------------------------------------------------
@router.get("/v1/bridge", summary="Bridged SOAP services and their operations")
async def list_services(bridge: Bridge, tenant: Tenant) -> dict[str, Any]:
    services = []
    for name, spec in sorted(bridge.visible(tenant).items()):
        entry: dict[str, Any] = {"name": name, "openapi": f"/v1/bridge/{name}/openapi.json"}
        try:
            loaded = await bridge.service(name)
        except Exception as exc:  # noqa: BLE001 - one broken service must not hide the rest
            entry["error"] = getattr(exc, "detail", str(exc))
        else:
            entry["operations"] = sorted(loaded.operations)
            entry["idempotent"] = sorted(spec.idempotent)
        services.append(entry)
    return {"services": services}


@router.get("/v1/bridge/{service}/openapi.json", summary="OpenAPI 3.1 document of a service")
async def service_openapi(service: str, bridge: Bridge, tenant: Tenant) -> JSONResponse:
    from translators.bridge.openapi import openapi_document

    bridge.authorize(service, tenant)
    loaded = await bridge.service(service)
    return JSONResponse(openapi_document(loaded))


@router.get(
    "/v1/bridge/{service}/docs", summary="Docs page of a service", response_class=HTMLResponse
)
async def service_docs(service: str, bridge: Bridge, tenant: Tenant) -> HTMLResponse:
    from translators.bridge.openapi import openapi_document

    bridge.authorize(service, tenant)
    loaded = await bridge.service(service)
    return HTMLResponse(_docs_page(openapi_document(loaded)))


CALL_BODY = {
    "requestBody": {
        "required": True,
        "description": "The operation's input as JSON; its schema is in the service's own "
        "document, `GET /v1/bridge/{service}/openapi.json`.",
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": True},
                "example": {"ubiNum": 42},
            }
        },
    }
}
REGISTER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ServiceRegistration"},
                "example": {
                    "wsdl": "number_conversion.wsdl",
                    "endpoint": "http://127.0.0.1:8080/soap",
                    "idempotent": ["NumberToWords"],
                    "description": "Numbers to words",
                },
            }
        },
    }
}


@router.post(
    "/v1/bridge/{service}/{operation}",
    summary="Call a SOAP operation with JSON",
    openapi_extra=CALL_BODY,
    responses={
        200: {"description": "The translated reply (see the service's openapi.json)"},
        400: {"description": "SOAP Client/Sender fault"},
        422: {"description": "Schema-invalid request, or Idempotency-Key reused"},
        502: {"description": "Server fault, invalid reply or unreachable upstream"},
        504: {"description": "Upstream timeout"},
    },
)
async def call_operation(
    service: str,
    operation: str,
    request: Request,
    bridge: Bridge,
    tenant: Tenant,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    body = await _read_limited(request, bridge.config.max_request_bytes)
    check_json_depth(body)
    result = await bridge.call(
        service,
        operation,
        body,
        tenant=tenant,
        idempotency_key=idempotency_key,
        request_id=getattr(request.state, "request_id", None),
    )
    return Response(result.body, status_code=result.status, headers=result.headers,
                    media_type="application/json")  # fmt: skip


# -- administrators --------------------------------------------------------------------------
async def require_admin(
    request: Request, x_admin_key: Annotated[str | None, Header(alias="X-Admin-Key")] = None
) -> None:
    expected = request.app.state.mmrag.settings.bridge.admin_key
    if expected is None:
        raise NotFoundError("the bridge admin API is disabled (no admin key is configured)")
    if not x_admin_key or not hmac.compare_digest(
        x_admin_key.encode(), expected.get_secret_value().encode()
    ):
        raise AuthError("missing or invalid X-Admin-Key")


Admin = Annotated[None, Depends(require_admin)]


@router.get("/v1/admin/bridge/services", summary="Registered services (secrets masked)")
def admin_list(bridge: Bridge, _: Admin) -> dict[str, Any]:
    return {
        "services": [
            spec.public() | {"source": bridge.registry.source(name)}
            for name, spec in sorted(bridge.registry.all().items())
        ]
    }


@router.put(
    "/v1/admin/bridge/services/{name}",
    summary="Register or replace a service",
    openapi_extra=REGISTER_BODY,
    responses={
        200: {"description": "Replaced; the service as stored (secrets masked)"},
        201: {"description": "Registered"},
        422: {"description": "Invalid service record"},
    },
)
async def admin_put(name: str, request: Request, bridge: Bridge, _: Admin) -> JSONResponse:
    from translators.bridge.spec import ServiceSpec

    raw = await _read_limited(request, 1024 * 1024)
    document = decode_json(raw)
    if not isinstance(document, dict):
        raise BadInputError("send the service as a JSON object")
    document["name"] = name
    document["wsdl"] = _admin_wsdl(str(document.get("wsdl", "")), bridge)
    try:
        spec = ServiceSpec.model_validate(document)
    except ValidationError as exc:
        from rag.errors import RequestInvalidError

        errors = [
            {"path": "/" + "/".join(str(p) for p in e["loc"]), "reason": e["msg"]}
            for e in exc.errors()
        ]
        raise RequestInvalidError(
            "invalid service: " + ", ".join(e["path"] for e in errors), errors=errors
        ) from None
    loaded = await asyncio.to_thread(bridge.load_sync, spec)  # refuse what cannot work
    replaced = bridge.registry.put(spec)
    body = spec.public() | {"operations": sorted(loaded.operations)}
    return JSONResponse(body, status_code=200 if replaced else 201)


@router.delete("/v1/admin/bridge/services/{name}", status_code=204, summary="Remove a service")
def admin_delete(name: str, bridge: Bridge, _: Admin) -> Response:
    bridge.registry.remove(name)
    return Response(status_code=204)


def _admin_wsdl(location: str, bridge: Any) -> str:
    if not location:
        raise BadInputError("the service needs a wsdl")
    if location.startswith(("http://", "https://")):
        allowlist = bridge.settings.translator.remote_allowlist
        if not any(location.startswith(prefix) for prefix in allowlist if prefix):
            raise BadInputError(
                "the WSDL URL is not on MMRAG_TRANSLATOR__REMOTE_ALLOWLIST", wsdl=location
            )
        return location
    root = bridge.settings.translator.wsdl_dir
    if root is None:
        raise BadInputError(
            "local WSDLs over the admin API need MMRAG_TRANSLATOR__WSDL_DIR; use a URL or the CLI"
        )
    root = Path(root).resolve()
    path = (root / location).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFoundError(f"no WSDL {location!r} under the WSDL folder", wsdl=location)
    return str(path)


# -- the docs page ---------------------------------------------------------------------------
def _docs_page(document: dict[str, Any]) -> str:
    info = document["info"]
    schemas = document["components"]["schemas"]
    sections = []
    for path, item in document["paths"].items():
        post = item["post"]
        name = post["operationId"]
        example = post["requestBody"]["content"]["application/json"].get("example")
        curl = (
            f"curl -s -X POST -H 'Content-Type: application/json' -H \"X-API-Key: $KEY\" \\\n"
            f"  --data '{json.dumps(example)}' http://HOST{path}"
        )
        sections.append(
            f"<section id='{html.escape(name)}'><h2>POST {html.escape(path)}</h2>"
            f"<p>{html.escape(post['description']).replace(chr(10) + chr(10), '</p><p>')}</p>"
            f"<h3>Request</h3><pre>{html.escape(curl)}</pre>"
            f"<details><summary>input schema</summary><pre>"
            f"{html.escape(json.dumps(schemas[name + 'Input'], indent=2))}</pre></details>"
            f"<details><summary>output schema</summary><pre>"
            f"{html.escape(json.dumps(schemas[name + 'Output'], indent=2))}</pre></details>"
            "</section>"
        )
    toc = "".join(
        f"<li><a href='#{html.escape(item['post']['operationId'])}'>"
        f"{html.escape(item['post']['operationId'])}</a></li>"
        for item in document["paths"].values()
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(info['title'])}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}pre{background:#f4f4f4;padding:.75rem;overflow:auto}"
        "section{border-top:1px solid #ddd;margin-top:1.5rem}</style></head><body>"
        f"<h1>{html.escape(info['title'])}</h1><p>{html.escape(info['description'])}</p>"
        "<p><a href='openapi.json'>openapi.json</a> (OpenAPI 3.1). Errors are RFC 9457 "
        "problem+json with a <code>trace_id</code>.</p>"
        f"<ul>{toc}</ul>{''.join(sections)}</body></html>"
    )
