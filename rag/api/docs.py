"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with their scripts served by this service.

FastAPI's own pages load their scripts from a CDN, so they are blank offline. The assets
come from the ``fastapi-offline`` package (MIT), which ships the Swagger UI and ReDoc dist
files; only those files are used, from package data, under ``/docs-assets/``."""

from __future__ import annotations

import importlib.resources
from functools import cache

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from rag.errors import NotFoundError

router = APIRouter(include_in_schema=False)

ASSETS_PREFIX = "/docs-assets"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


@cache
def _asset(name: str) -> bytes:
    return importlib.resources.files("fastapi_offline").joinpath("static", name).read_bytes()


@router.get(ASSETS_PREFIX + "/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSET_TYPES:
        raise NotFoundError(f"no docs asset {name!r}")
    return Response(
        _asset(name),
        media_type=ASSET_TYPES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PREFIX}/favicon.png",
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PREFIX}/favicon.png",
        with_google_fonts=False,
    )
