"""The OpenAPI document is complete and /docs, /redoc need nothing from the network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from rag.api import create_app
from rag.models import ModelRegistry
from rag.settings import Settings


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _document(settings: Settings) -> dict[str, Any]:
    app = create_app(settings, models=ModelRegistry(settings, loaders={}))
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_every_ref_resolves(settings: Settings) -> None:
    document = _document(settings)
    for ref in set(_refs(document)):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_post_and_put_has_a_request_body(settings: Settings) -> None:
    document = _document(settings)
    seen = 0
    for path, item in document["paths"].items():
        for method in ("post", "put"):
            if method in item:
                seen += 1
                body = item[method].get("requestBody")
                assert body, f"{method.upper()} {path} has no requestBody"
                assert body["content"], f"{method.upper()} {path} has an empty requestBody"
        for method, operation in item.items():
            assert operation.get("responses"), f"{method.upper()} {path} has no responses"
    assert seen >= 6


def test_search_body_schema_and_examples_validate(settings: Settings) -> None:
    from rag.api.search import SearchBody

    document = _document(settings)
    content = document["paths"]["/v1/search"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/SearchBody"}
    for example in content["application/json"]["examples"].values():
        SearchBody.model_validate(example["value"])
    admin = document["paths"]["/v1/admin/bridge/services/{name}"]["put"]["requestBody"]
    schema = document["components"]["schemas"]["ServiceRegistration"]
    assert "name" not in schema.get("required", [])
    assert set(admin["content"]["application/json"]["example"]) <= set(schema["properties"])


def test_docs_pages_use_local_assets_only(settings: Settings) -> None:
    app = create_app(settings, models=ModelRegistry(settings, loaders={}))
    with TestClient(app) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            assert urls, page
            for url in urls:
                assert url.startswith("/"), f"{page} loads {url} from elsewhere"
                asset = client.get(url)
                assert asset.status_code == 200, url
                assert len(asset.content) > 1000, url
        assert client.get("/docs-assets/../settings.py").status_code == 404
        assert client.get("/docs-assets/nope.js").status_code == 404
