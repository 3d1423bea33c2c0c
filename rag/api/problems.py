"""RFC 9457 problem details: every error response of the API, mapped in one place."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api.pool import SaturatedError
from rag.errors import (
    AuthError,
    BadInputError,
    ConfigError,
    ConflictError,
    IdempotencyKeyReusedError,
    MmragError,
    ModelUnavailableError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    RequestInvalidError,
    SoapClientFaultError,
    StoreError,
    UnsupportedMediaError,
    UpstreamError,
    UpstreamTimeoutError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Most specific first: the first class in an error's MRO found here decides the status.
STATUS_FOR_ERROR: dict[type[MmragError], int] = {
    SaturatedError: 429,
    RequestInvalidError: 422,
    IdempotencyKeyReusedError: 422,
    SoapClientFaultError: 400,
    UpstreamTimeoutError: 504,
    UnsupportedMediaError: 415,
    PayloadTooLargeError: 413,
    BadInputError: 400,
    NotFoundError: 404,
    AuthError: 401,
    ConflictError: 409,
    OverloadedError: 503,
    ModelUnavailableError: 503,
    StoreError: 503,
    UpstreamError: 502,
    ConfigError: 500,
    MmragError: 500,
}


def status_for(error: MmragError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[cls]
    return 500


def problem_response(
    request: Request,
    status: int,
    *,
    detail: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:mmrag:problem:{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    trace_id = getattr(request.state, "request_id", None)
    if trace_id:
        body["trace_id"] = trace_id
    body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _mmrag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MmragError)
    status = status_for(exc)
    if isinstance(exc, UpstreamError):
        # An upstream's fault text is not ours to log: it can echo credentials back.
        logger.warning("%s on %s (%s)", type(exc).__name__, request.url.path, exc.code)
    elif status >= 500:
        logger.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.detail)
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    if status in (429, 503):
        retry_after = getattr(exc, "retry_after_s", 5)
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    return problem_response(
        request, status, detail=exc.detail, code=exc.code, headers=headers, **_jsonable(exc.extra)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
    return problem_response(
        request, 422, detail=f"invalid request: {fields}", code="validation", errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        request,
        exc.status_code,
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s", request.url.path)
    return problem_response(request, 500, detail="internal server error", code="internal")


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None | list | dict) else str(v)
        for k, v in extra.items()
    }


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MmragError, _mmrag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)
