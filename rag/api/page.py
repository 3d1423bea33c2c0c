"""The search page at ``/`` and its assets at ``/static/{name}``, from package data.

The page is plain HTML, one JS module and one stylesheet: no build step, no CDN, no inline
script or style, so it runs offline under a strict Content-Security-Policy. Asset URLs carry a
content hash (``?v=``), so a hashed URL is cached for a year and a new release is picked up at
once; the page itself is revalidated on every load (ETag).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rag.errors import NotFoundError

router = APIRouter(include_in_schema=False)

# Applied to the page and its assets only: /docs (Swagger UI) needs an inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
ASSET_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str  # quoted, as sent
    version: str  # the ?v= value in the page's URLs


def _etag(body: bytes) -> tuple[str, str]:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f'"{digest}"', digest


@cache
def _assets() -> dict[str, _Asset]:
    root = importlib.resources.files("rag.web")
    assets = {}
    for name, media_type in ASSET_TYPES.items():
        body = root.joinpath(name).read_bytes()
        etag, version = _etag(body)
        assets[name] = _Asset(body, media_type, etag, version)
    html = root.joinpath("index.html").read_text(encoding="utf-8")
    for name, asset in assets.items():
        html = html.replace(f"{{{{asset:{name}}}}}", f"/static/{name}?v={asset.version}")
    if "{{asset:" in html:
        raise RuntimeError("index.html names an asset that rag.api.page does not serve")
    body = html.encode("utf-8")
    etag, version = _etag(body)
    assets["index.html"] = _Asset(body, "text/html; charset=utf-8", etag, version)
    return assets


def _security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _serve(request: Request, asset: _Asset, cache_control: str) -> Response:
    headers = {**_security_headers(), "ETag": asset.etag, "Cache-Control": cache_control}
    if asset.etag in _if_none_match(request):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _if_none_match(request: Request) -> set[str]:
    raw = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


@router.api_route("/", methods=["GET", "HEAD"])
def page(request: Request) -> Response:
    """The search page (works with and without API keys: the key lives in the browser)."""
    return _serve(request, _assets()["index.html"], _REVALIDATE)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static(name: str, request: Request, v: str | None = None) -> Response:
    """The page's JS module and stylesheet; immutable when asked for by their hashed URL."""
    if name not in ASSET_TYPES:
        raise NotFoundError(f"no static asset {name!r}")
    asset = _assets()[name]
    return _serve(request, asset, _IMMUTABLE if v == asset.version else _REVALIDATE)
