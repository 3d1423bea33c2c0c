"""The search page's routes and the rules its assets keep (CSP, caching, no HTML from data).

The page's behaviour in a browser is tested end to end in
tests/integration/test_search_page.py."""

from __future__ import annotations

import importlib.resources
import re

import pytest
from fastapi.testclient import TestClient

from rag.api import create_app
from rag.api.page import PAGE_CSP
from rag.api.problems import PROBLEM_JSON
from rag.settings import Settings

WEB = importlib.resources.files("rag.web")


@pytest.fixture
def client(settings: Settings) -> TestClient:
    # No `with`: the lifespan (models, store) is not needed to serve static files.
    return TestClient(create_app(settings))


def _asset_urls(html: str) -> dict[str, str]:
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    return {url.split("?")[0].removeprefix("/static/"): url for url in urls}


def test_page_is_served_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert csp == PAGE_CSP
    for directive in (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert "<title>mmrag search</title>" in response.text
    assert "{{" not in response.text, "an asset placeholder was left in the page"


def test_page_has_no_inline_script_style_or_external_resource(client: TestClient) -> None:
    html = client.get("/").text
    assert re.findall(r"<script\b[^>]*>", html) == [
        f'<script type="module" src="{_asset_urls(html)["app.js"]}">'
    ]
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers break the CSP"
    assert not re.search(r"(?:href|src)=\"(?:https?:)?//", html), "the page must work offline"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")],
)
def test_hashed_assets_are_immutable_and_revalidate_by_etag(
    client: TestClient, name: str, media_type: str
) -> None:
    url = _asset_urls(client.get("/").text)[name]
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == WEB.joinpath(name).read_bytes()
    etag = response.headers["etag"]
    assert etag.strip('"') == url.split("?v=")[1]

    unversioned = client.get(f"/static/{name}")
    assert unversioned.headers["cache-control"] == "no-cache"
    stale = client.get(f"/static/{name}?v=0000")
    assert stale.headers["cache-control"] == "no-cache"
    not_modified = client.get(f"/static/{name}", headers={"If-None-Match": f'W/{etag}, "x"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""


def test_page_revalidates_by_etag(client: TestClient) -> None:
    etag = client.get("/").headers["etag"]
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304
    assert client.head("/").status_code == 200


@pytest.mark.parametrize("name", ["nope.js", "index.html", "__init__.py", "..%2Fpage.py"])
def test_only_the_page_assets_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_docs_and_openapi_still_work_without_the_page_csp(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "content-security-policy" not in docs.headers
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/search" in paths
    assert "/" not in paths
    assert not any(p.startswith("/static") for p in paths)


def test_script_never_parses_data_as_html() -> None:
    script = WEB.joinpath("app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, f"app.js uses {sink}"
    assert "new Function" not in script
    assert '.setAttribute("style"' not in script
    # Every request the page makes carries the key when one is set.
    assert 'h.set("X-API-Key", apiKey)' in script
    assert script.count("fetch(") == 2  # the search and the keyed media loader


def test_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = WEB.joinpath("style.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert "url(" not in css
    assert "@font-face" not in css
