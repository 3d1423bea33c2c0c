"""``POST /v1/translate`` and ``GET /v1/translate/schema``: the translator over HTTP.

The message travels either as the raw request body (``application/xml``, ``text/xml``,
``application/soap+xml`` or an MTOM ``multipart/related`` body) with parameters in the query,
or as ``multipart/form-data`` with the parts ``message`` (the XML), and optionally ``wsdl``
(an uploaded WSDL), ``schema`` (uploaded XSDs it imports, by file name), ``target_schema``
(JSON) and the query parameters as form fields. A WSDL can also be named by ``wsdl=`` relative
to the configured WSDL folder.

Both routes need an API key (``X-API-Key`` or ``Authorization: Bearer``) when keys are
configured, like every data route; the body is not read before the key is checked.
The body is read with a size cap before anything parses it. A 200 always carries JSON that
validated against the schema it names (``schema`` in the body, ``X-Translation-Schema``
header); a fallback is listed in ``fallbacks`` and in ``X-Translation-Fallback`` and counted
in ``/metrics``. Deviations from the WSDL (the default ``on_mismatch=declare`` policy) are
listed in ``deviations``, summarised in ``X-Translation-Deviations`` and counted per kind;
``schema`` then names the operation's schema widened at them (``base_schema`` the original).
Errors are RFC 9457 problem documents (see :mod:`rag.api.problems`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from rag.api.auth import Tenant
from rag.api.jsonbody import decode_json
from rag.api.metrics import ServiceMetrics
from rag.api.state import ServiceState, get_state
from rag.errors import (
    BadInputError,
    MessageMismatchError,
    MmragError,
    PayloadTooLargeError,
    SoapFaultError,
    UnsupportedMediaError,
    XmlRejectedError,
)

router = APIRouter(prefix="/v1", tags=["translate"])

State = Annotated[ServiceState, Depends(get_state)]
_XML_TYPES = ("application/xml", "text/xml", "application/soap+xml", "application/xop+xml")
_LOCK = threading.Lock()


def _translator(request: Request) -> Any:
    service = getattr(request.app.state, "translator", None)
    if service is None:
        with _LOCK:
            service = getattr(request.app.state, "translator", None)
            if service is None:
                state: ServiceState = request.app.state.mmrag
                service = state.runtime.translator()
                request.app.state.translator = service
    return service


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"the body is {declared} bytes, over the limit of {limit}", limit=limit
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _form(request: Request, body: bytes) -> dict[str, Any]:
    from starlette.formparsers import MultiPartException, MultiPartParser

    parser = MultiPartParser(
        request.headers, _once(body), max_files=200, max_fields=50, max_part_size=len(body) + 1
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadInputError(f"malformed multipart body: {exc.message}") from None
    fields: dict[str, Any] = {"schemas": {}}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if name == "schema":
                    fields["schemas"][value.filename or f"schema{len(fields['schemas'])}.xsd"] = (
                        data
                    )
                else:
                    fields[name] = data
                    fields[name + "_filename"] = value.filename
                    fields[name + "_content_type"] = value.content_type
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields


def _count(
    metrics: ServiceMetrics, mode: str, outcome: str, fallbacks: list[str] | None = None
) -> None:
    metrics.translations.labels(mode, outcome).inc()
    for kind in fallbacks or []:
        metrics.translation_fallbacks.labels(kind).inc()


def _outcome(exc: MmragError) -> str:
    if isinstance(exc, SoapFaultError):
        return "fault"
    if isinstance(exc, XmlRejectedError | PayloadTooLargeError):
        return "rejected"
    if isinstance(exc, MessageMismatchError):
        return "mismatch"
    if isinstance(exc, BadInputError):
        return "bad-input"
    return "error"


_SOAP_EXAMPLE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soap:Body><GetQuoteResponse xmlns="urn:example"><symbol>ACME</symbol>'
    '<price currency="EUR">12.50</price><tag>a</tag><tag>b</tag></GetQuoteResponse>'
    "</soap:Body></soap:Envelope>"
)
_XML_BODY = {"schema": {"type": "string"}, "example": _SOAP_EXAMPLE}
TRANSLATE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The XML message as the body (parameters in the query), an MTOM "
        "multipart/related body, or a form with the message and an uploaded WSDL.",
        "content": {
            "application/xml": _XML_BODY,
            "text/xml": _XML_BODY,
            "application/soap+xml": _XML_BODY,
            "multipart/related": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": {"type": "string", "format": "binary"},
                        "wsdl": {"type": "string", "format": "binary"},
                        "operation": {"type": "string"},
                        "direction": {"type": "string", "enum": ["input", "output"]},
                        "target_schema": {"type": "string", "description": "JSON Schema"},
                        "mode": {"type": "string", "enum": ["deterministic", "llm"]},
                    },
                }
            },
        },
    }
}


@router.post(
    "/translate",
    summary="Translate a SOAP/XML message to JSON",
    openapi_extra=TRANSLATE_BODY,
    responses={
        200: {"description": "The translation; `data` validates against `schema`"},
        400: {"description": "Malformed, hostile or mismatching XML (problem+json)"},
        401: {"description": "Missing or invalid API key"},
        413: {"description": "Body over the configured size"},
        415: {"description": "Not an XML or multipart body"},
        502: {"description": "The message is a SOAP Fault; the problem carries `fault`"},
    },
)
async def translate(
    request: Request,
    state: State,
    tenant: Tenant,  # an API key, like every data route (no key, no CPU spent on the body)
    wsdl: Annotated[
        str | None, Query(description="A WSDL under the configured WSDL folder")
    ] = None,
    operation: Annotated[str | None, Query(description="Operation (inferred when omitted)")] = None,
    direction: Annotated[Literal["input", "output"] | None, Query()] = None,
    mode: Annotated[Literal["deterministic", "llm"], Query()] = "deterministic",
    on_mismatch: Annotated[
        Literal["declare", "error", "schemaless"] | None,
        Query(description="A message that does not fit: declare (default), error, schemaless"),
    ] = None,
    arrays: Annotated[Literal["auto", "always"], Query()] = "auto",
) -> Response:
    from translators.convert.jsonout import dumps
    from translators.service import TranslateOptions, WsdlRef

    metrics: ServiceMetrics = request.app.state.metrics
    config = state.settings.translator
    content_type = request.headers.get("content-type", "").strip()
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == "multipart/form-data":
            body = await _read_limited(
                request, config.max_message_bytes + 4 * config.max_document_bytes
            )
            fields = await _form(request, body)
            message = fields.get("message")
            if isinstance(message, str):
                message = message.encode()
            if not isinstance(message, bytes):
                raise BadInputError("the form has no 'message' part")
            if len(message) > config.max_message_bytes:
                raise PayloadTooLargeError(
                    f"the message is over the limit of {config.max_message_bytes} bytes",
                    limit=config.max_message_bytes,
                )
            message_type = fields.get("message_content_type") or fields.get(
                "message_content_type_field"
            )
            ref = None
            if isinstance(fields.get("wsdl"), bytes):
                entry = str(fields.get("wsdl_filename") or "service.wsdl")
                ref = WsdlRef(uploads={entry: fields["wsdl"], **fields["schemas"]}, entry=entry)
            elif isinstance(fields.get("wsdl"), str):
                ref = WsdlRef(name=fields["wsdl"])
            target = fields.get("target_schema")
            target_schema = None
            if target is not None:
                raw_schema = target if isinstance(target, bytes) else str(target).encode()
                target_schema = decode_json(raw_schema, what="target_schema")
            options = TranslateOptions(
                operation=fields.get("operation") or operation,
                direction=fields.get("direction") or direction,
                content_type=message_type
                if isinstance(message_type, str) and message_type.startswith("multipart/")
                else None,
                on_mismatch=fields.get("on_mismatch") or on_mismatch,
                arrays=fields.get("arrays") or arrays,
                target_schema=target_schema,
                mode=fields.get("mode") or mode,
            )
        elif media in _XML_TYPES or media == "multipart/related" or media == "":
            message = await _read_limited(request, config.max_message_bytes)
            ref = WsdlRef(name=wsdl) if wsdl else None
            options = TranslateOptions(
                operation=operation,
                direction=direction,
                content_type=content_type if media == "multipart/related" else None,
                on_mismatch=on_mismatch,
                arrays=arrays,
                mode=mode,
            )
        else:
            raise UnsupportedMediaError(
                f"send XML (application/xml, text/xml, application/soap+xml), MTOM "
                f"(multipart/related) or multipart/form-data, not {media}"
            )
        if options.direction not in (None, "input", "output"):
            raise BadInputError("direction must be input or output")
        service = _translator(request)
        result = await run_in_threadpool(service.translate, message, ref, options)
    except MmragError as exc:
        _count(metrics, "deterministic" if mode == "deterministic" else "llm", _outcome(exc))
        raise
    from translators.convert.deviations import header_value

    kinds = [f.kind for f in result.fallbacks]
    outcome = "fallback" if kinds else "deviations" if result.deviations else "ok"
    _count(metrics, result.mode, outcome, kinds)
    for deviation in result.deviations:
        metrics.translation_deviations.labels(deviation.kind).inc()
    headers = {"X-Translation-Schema": result.schema_id}
    if kinds:
        headers["X-Translation-Fallback"] = ",".join(kinds)
    if result.deviations:
        headers["X-Translation-Deviations"] = header_value(result.deviations)
    return Response(
        dumps(result.as_dict()).encode(), media_type="application/json", headers=headers
    )


@router.get("/translate/schema", summary="The JSON Schema of an operation message")
async def translate_schema(
    request: Request,
    tenant: Tenant,
    wsdl: Annotated[str, Query(description="A WSDL under the configured WSDL folder")],
    operation: Annotated[str, Query()],
    direction: Annotated[Literal["input", "output"], Query()] = "output",
) -> Response:
    from translators.convert.jsonout import dumps
    from translators.service import WsdlRef

    service = _translator(request)
    schema = await run_in_threadpool(service.schema, WsdlRef(name=wsdl), operation, direction)
    return Response(dumps(schema).encode(), media_type="application/schema+json")
