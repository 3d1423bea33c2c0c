"""The service's OpenAPI document, completed where FastAPI cannot see a body.

Routes that read their body themselves (JSON or multipart search, XML translate, the bridge
call, the admin PUT) declare it with ``openapi_extra``; their schemas are added here under
``components/schemas`` so every ``$ref`` in the document resolves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"


def model_schemas(model: type[BaseModel], name: str | None = None) -> dict[str, Any]:
    """``model``'s JSON Schema and the schemas it refers to, keyed by component name."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, name or model.__name__: schema}


def _extra_schemas() -> dict[str, Any]:
    from rag.api.search import SearchBody
    from translators.bridge.spec import ServiceSpec

    schemas = model_schemas(SearchBody)
    service = model_schemas(ServiceSpec, "ServiceRegistration")
    registration = dict(service["ServiceRegistration"])
    # The name comes from the URL path; the body may leave it out.
    registration["required"] = [r for r in registration.get("required", []) if r != "name"]
    service["ServiceRegistration"] = registration
    return schemas | service


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _extra_schemas().items():
                components.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
