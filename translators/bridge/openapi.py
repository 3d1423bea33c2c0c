"""The OpenAPI 3.1 document of a bridged service, built from its WSDL.

One ``POST /v1/bridge/{service}/{operation}`` per operation of the bound port. The request
and response bodies are the translator's JSON Schemas (draft 2020-12, OpenAPI 3.1's own
dialect) of the operation's input and output messages, under ``components/schemas`` (each
with its ``$defs``; references rewritten to document pointers, the schema id kept as
``x-schema-id``); an operation with a target schema answers with that schema instead.
Errors are RFC 9457 problem documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from translators.bridge.soap import LoadedService

__all__ = ["example_for", "openapi_document"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "trace_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "request-invalid: each failing field",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "fault": {
            "type": "object",
            "description": "soap-fault / soap-client-fault: the SOAP Fault",
            "properties": {
                "code": {"type": "string"},
                "subcodes": {"type": "array", "items": {"type": "string"}},
                "reason": {"type": "string"},
                "actor": {"type": ["string", "null"]},
                "detail": {},
                "soap_version": {"type": "string"},
            },
        },
    },
}

_ERRORS: dict[str, str] = {
    "400": "The upstream answered a SOAP Fault whose code blames the request (Client/Sender)",
    "401": "Missing or invalid API key",
    "404": "No such service or operation",
    "409": "A request with this Idempotency-Key is still running, or an earlier one timed out "
    "after the upstream got it (`idempotency-outcome-unknown`, naming `first_attempt`): "
    "not sent again",
    "413": "The request body is too large",
    "422": "The body fails the input schema (`errors` names the fields), or the "
    "Idempotency-Key was used with another body",
    "502": "The upstream answered a server SOAP Fault (`fault`), an invalid reply, or could "
    "not be reached",
    "503": "The service's concurrency limit is full (see Retry-After)",
    "504": "The upstream did not answer within the timeout",
}


def openapi_document(loaded: LoadedService, *, base_path: str = "/v1/bridge") -> dict[str, Any]:
    spec = loaded.spec
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for name in sorted(loaded.operations):
        bound = loaded.operations[name]
        input_name, output_name = f"{name}Input", f"{name}Output"
        schemas[input_name] = _component(bound.input.schema, input_name)
        if bound.input.shape.headers:  # declared SOAP headers ride under "soap:Header"
            headers_name = f"{name}Headers"
            schemas[headers_name] = _component(bound.input.header_schema, headers_name)
            schemas[input_name].setdefault("properties", {})["soap:Header"] = {
                "$ref": f"#/components/schemas/{headers_name}"
            }
        target = spec.target_schemas.get(name)
        output = target if target is not None else bound.output.schema
        schemas[output_name] = _component(output, output_name)
        retry = (
            "Idempotent: retried with backoff after a dropped connection, a timeout or an "
            "HTTP 502/503/504."
            if bound.idempotent
            else "Not idempotent: sent exactly once, never retried."
        )
        doc = bound.operation.documentation.strip()
        responses: dict[str, Any] = {
            "200": {
                "description": "The upstream reply, translated"
                + (" and mapped to the target schema" if target is not None else ""),
                "headers": {
                    "X-Translation-Schema": {
                        "description": "The schema the body was validated against",
                        "schema": {"type": "string"},
                    },
                    "X-Translation-Deviations": {
                        "description": "Present when the upstream reply did not follow its "
                        "WSDL: `<count>; <kind>=<path>, ...`. The body then follows the "
                        "schema below widened at exactly those paths (named by "
                        "X-Translation-Schema)",
                        "schema": {"type": "string"},
                    },
                    "Idempotent-Replayed": {
                        "description": "`true` when the response was replayed for an "
                        "Idempotency-Key",
                        "schema": {"type": "string"},
                    },
                },
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{output_name}"}}
                },
            }
        }
        for status, description in _ERRORS.items():
            responses[status] = {
                "description": description,
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        paths[f"{base_path}/{spec.name}/{name}"] = {
            "post": {
                "operationId": name,
                "summary": doc.splitlines()[0][:120] if doc else f"{name} ({spec.name})",
                "description": "\n\n".join(
                    part
                    for part in (
                        doc,
                        f"SOAP operation `{bound.key}` (SOAP {bound.soap_version}) at the "
                        "configured endpoint.",
                        retry,
                    )
                    if part
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Replays the stored response instead of calling the "
                        "upstream again (same key with another body: 422)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{input_name}"},
                            "example": example_for(bound.input.schema),
                        }
                    },
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": f"{spec.name} (SOAP bridge)",
            "version": loaded.compiled.fingerprint[:12],
            "description": (spec.description + "\n\n" if spec.description else "")
            + f"Generated from the WSDL `{_shown(spec.wsdl)}`, port `{loaded.port_name}` "
            f"(binding `{loaded.binding_name}`, SOAP {loaded.soap_version}).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{"ApiKey": []}],
    }


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """``schema`` as ``components/schemas/<name>``: its ``#/$defs/...`` references rewritten
    to document pointers, and its ``$id`` kept as ``x-schema-id`` (an ``$id`` would change the
    base URI those pointers resolve against; many OpenAPI tools ignore embedded ``$id``)."""
    base = f"#/components/schemas/{name}"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                    out[key] = base + value[1:]
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    component: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$schema":
            continue  # implied by jsonSchemaDialect
        if key == "$id":
            component["x-schema-id"] = value
        else:
            component[key] = rewrite(value)
    return component


def _shown(wsdl: str) -> str:
    return wsdl.rsplit("/", 1)[-1] if not wsdl.startswith(("http://", "https://")) else wsdl


def example_for(schema: dict[str, Any], *, depth: int = 0) -> Any:
    """A small instance of ``schema`` for the docs: required members, first choices."""
    return _example(schema, schema.get("$defs", {}), depth)


def _example(schema: Any, defs: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "$ref" in schema:
        ref = str(schema["$ref"])
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/$defs/") else None
        return _example(target, defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for keyword in ("oneOf", "anyOf", "allOf"):
        if schema.get(keyword):
            return _example(schema[keyword][0], defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = schema.get("required") or list(properties)[:1]
        return {
            key: _example(properties.get(key, {}), defs, depth + 1)
            for key in required
            if key in properties
        }
    if kind == "array":
        return [_example(schema.get("items", {}), defs, depth + 1)]
    if kind == "integer":
        return max(int(schema.get("minimum", 0)), 0) if "minimum" in schema else 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        return "string"
    return None
