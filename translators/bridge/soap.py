"""A registered service, loaded: zeep builds requests, the translator reads replies.

Both sides load the WSDL through the translator's resolver (bundled standard schemas, local
files, allow-listed URLs only) and hardened parser. Each REST operation is bound to one WSDL
port: the service's ``port`` if it names one, else the first SOAP 1.1 port, else the first
SOAP 1.2 port. The JSON request is the translator's JSON form of the operation's *input*
message (the same convention as its replies), validated against the input schema before zeep
sees it, then turned into zeep values (``@attr`` -> ``attr``, ``#text`` -> ``_value_1``;
base64 and hex text passes through as written) and serialised by zeep's binding
(WS-Addressing, plugins and the WS-Security UsernameToken included).
"""

from __future__ import annotations

import base64
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from rag.errors import BadInputError, NotFoundError, RequestInvalidError, WsdlError
from translators.bridge.spec import BasicAuth, ServiceSpec, WsseAuth
from translators.compiled import CompiledMessage, CompiledWsdl
from translators.schema.gate import SchemaGate
from translators.service import describe_error
from translators.wsdl.model import Operation
from translators.xml.names import local_name

__all__ = ["BoundOperation", "LoadedService", "SoapRequest", "bind_service"]


@dataclass(frozen=True)
class SoapRequest:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class BoundOperation:
    name: str
    operation: Operation
    address: str
    soap_version: str
    input: CompiledMessage
    output: CompiledMessage
    idempotent: bool

    @property
    def key(self) -> str:
        return self.operation.key


class LoadedService:
    """One service's WSDL, compiled for the translator and loaded by zeep, with its port."""

    def __init__(self, spec: ServiceSpec, compiled: CompiledWsdl, client: Any) -> None:
        self.spec = spec
        self.compiled = compiled
        self.client = client
        self.port_name, binding, address = _choose_port(client, spec)
        self.binding = binding
        self.binding_name = local_name(binding.name.text)
        self.address = spec.endpoint or address
        if not self.address:
            raise WsdlError(
                f"{spec.name}: the port has no soap:address and no endpoint was given",
                construct="soap:address",
            )
        self.soap_version = "1.2" if type(binding).__name__ == "Soap12Binding" else "1.1"
        self.operations: dict[str, BoundOperation] = {}
        for name in binding._operations:
            found = [op for op in compiled.find_operations(f"{self.binding_name}/{name}")]
            if not found or found[0].input is None or found[0].output is None:
                continue  # one-way operations have no reply to translate
            op = found[0]
            self.operations[name] = BoundOperation(
                name=name,
                operation=op,
                address=self.address,
                soap_version=self.soap_version,
                input=compiled.message(op, "input"),
                output=compiled.message(op, "output"),
                idempotent=name in spec.idempotent,
            )
        unknown = sorted(set(spec.idempotent) - set(self.operations))
        if unknown:
            raise BadInputError(
                f"{spec.name}: idempotent names operations the port lacks: {', '.join(unknown)}",
                service=spec.name,
            )

    def operation(self, name: str) -> BoundOperation:
        bound = self.operations.get(name)
        if bound is None:
            raise NotFoundError(
                f"{self.spec.name} has no operation {name!r}; it has: "
                + ", ".join(sorted(self.operations)),
                service=self.spec.name,
                operation=name,
            )
        return bound

    # -- requests ------------------------------------------------------------------------
    def validate(self, bound: BoundOperation, data: Any) -> None:
        """Refuse a request that fails the input schema, naming every failing field."""
        gate: SchemaGate = bound.input.validator
        if gate.is_valid(data):
            return
        errors = [
            {"path": _pointer(error), "reason": describe_error(error)}
            for error in sorted(gate.reference.iter_errors(data), key=lambda e: list(e.path))[:20]
        ] or [{"path": "/", "reason": "the request failed schema validation"}]
        fields = ", ".join(e["path"] for e in errors)
        raise RequestInvalidError(
            f"the request does not fit the {bound.name} input schema: {fields}", errors=errors
        )

    def build(self, bound: BoundOperation, data: Any) -> SoapRequest:
        """The SOAP envelope and HTTP headers for a validated request."""
        zeep_operation = self.binding.get(bound.name)
        message = zeep_operation.input
        args, kwargs = _arguments(bound.operation, message, data)
        try:
            envelope, headers = self.binding._create(
                bound.name, args, kwargs, client=self.client, options={"address": bound.address}
            )
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # The schema admitted it but zeep cannot serialise it (e.g. an @xsi:type choice).
            raise RequestInvalidError(
                f"zeep cannot build the {bound.name} request: {exc}",
                errors=[{"path": "/", "reason": str(exc)[:300]}],
            ) from exc
        body = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
        headers = {str(k): str(v) for k, v in headers.items()}
        if isinstance(self.spec.auth, BasicAuth):
            token = f"{self.spec.auth.username}:{self.spec.auth.password.get_secret_value()}"
            headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        return SoapRequest(bytes(body), headers)


def _pointer(error: Any) -> str:
    """The JSON pointer of a failing field; a missing required member is named itself."""
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [m for m in error.validator_value if m not in error.instance]
        if len(missing) == 1:
            path.append(str(missing[0]))
    return "/" + "/".join(path)


def bind_service(
    spec: ServiceSpec, compiled: CompiledWsdl, client: Any, *, wsdl_path: Path | str
) -> LoadedService:
    if isinstance(spec.auth, WsseAuth):
        username_token: Any = importlib.import_module("zeep.wsse.username").UsernameToken
        client.wsse = username_token(
            spec.auth.username, spec.auth.password.get_secret_value(), use_digest=spec.auth.digest
        )
    return LoadedService(spec, compiled, client)


def _choose_port(client: Any, spec: ServiceSpec) -> tuple[str, Any, str]:
    candidates: list[tuple[int, str, Any, str]] = []
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            binding = port.binding
            kind = type(binding).__name__
            if kind not in ("Soap11Binding", "Soap12Binding"):
                continue
            address = str(port.binding_options.get("address") or "")
            if spec.port is not None:
                if port.name == spec.port:
                    return port.name, binding, address
                continue
            candidates.append((0 if kind == "Soap11Binding" else 1, port.name, binding, address))
    if spec.port is not None:
        raise WsdlError(f"{spec.name}: no SOAP port named {spec.port!r}", construct="wsdl:port")
    if not candidates:
        raise WsdlError(f"{spec.name}: the WSDL has no SOAP port", construct="wsdl:port")
    candidates.sort(key=lambda c: c[0])
    _, name, binding, address = candidates[0]
    return name, binding, address


def _arguments(
    operation: Operation, message: Any, data: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """zeep's call arguments for the translator-convention JSON of an input message."""
    body = message.body
    if body is None or not isinstance(data, dict):
        return (), {}
    if operation.style == "rpc":
        inner = data.get(local_name(body.qname.text)) if len(data) == 1 else None
        inner = inner if isinstance(inner, dict) else next(iter(data.values()), {})
        children = _children(body.type)
        return (), {k: _to_zeep(v, children.get(k)) for k, v in (inner or {}).items()}
    if getattr(message, "_is_body_wrapped", False):
        # Several parts: one body element each, passed by part name.
        parts: dict[str, Any] = {}
        binding = operation.input
        by_element: dict[str, str] = {
            local_name(p.element) if p.element else p.name: p.name
            for p in (binding.parts if binding else ())
        }
        children = _children(body.type)
        for key, value in data.items():
            part = str(by_element.get(str(key), key))
            parts[part] = _to_zeep(value, children.get(part))
        return (), parts
    value = data.get(local_name(body.qname.text))
    if value is None and len(data) == 1:
        value = next(iter(data.values()))
    converted = _to_zeep(value, body)
    if isinstance(converted, dict):
        return (), converted
    return (converted,), {}


def _children(xsd_type: Any) -> dict[str, Any]:
    """Child elements and attributes of a zeep complex type, by name."""
    found: dict[str, Any] = {}
    try:
        for name, element in getattr(xsd_type, "elements", []):
            found[name] = element
        for name, attribute in getattr(xsd_type, "attributes", []):
            found["@" + name] = attribute
    except (TypeError, ValueError, AttributeError):
        return found
    return found


def _to_zeep(value: Any, node: Any) -> Any:
    """JSON (translator convention) -> the value zeep renders for element/attribute ``node``."""
    xsd_type = getattr(node, "type", None)
    if isinstance(value, list):
        return [_to_zeep(item, node) for item in value]
    if isinstance(value, dict):
        children = _children(xsd_type)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "@xsi:type":
                continue  # zeep picks the declared type; see docs/bridge.md (limitations)
            if key == "#text":
                out["_value_1"] = _to_zeep(item, node if xsd_type is None else xsd_type)
            elif key.startswith("@"):
                out[key[1:]] = _to_zeep(item, children.get(key))
            else:
                out[key.rpartition(":")[2]] = _to_zeep(item, children.get(key))
        return out
    return value
