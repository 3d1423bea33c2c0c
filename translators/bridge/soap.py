"""A registered service, loaded: the bridge's serializer builds requests, the translator
reads replies, both over the one compiled WSDL.

The WSDL is loaded through the translator's resolver (bundled standard schemas, local files,
allow-listed URLs only) and hardened parser. Each REST operation is bound to one WSDL port:
the service's ``port`` if it names one, else the first SOAP 1.1 port, else the first SOAP 1.2
port (a WSDL without a ``wsdl:service``, or whose ports name no binding it defines, binds its
first SOAP binding, with a warning; the endpoint must then be given unless a lone port has an
address). The JSON request is the translator's JSON form of the operation's *input* message
(the same convention as its replies), validated against the input schema, then serialised by
:class:`~translators.bridge.serializer.RequestSerializer` over the same compiled schema, with
the WS-Security UsernameToken when configured. zeep is not involved (it stays a test oracle).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from rag.errors import BadInputError, NotFoundError, RequestInvalidError, WsdlError
from translators.bridge.serializer import RequestSerializer
from translators.bridge.spec import BasicAuth, ServiceSpec, WsseAuth
from translators.bridge.wsse import username_token
from translators.compiled import CompiledMessage, CompiledWsdl
from translators.schema.gate import SchemaGate
from translators.service import describe_error
from translators.wsdl.model import Operation, SoapVersion

logger = logging.getLogger(__name__)

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
    """One service's WSDL, compiled once for the translator and the serializer, with its port."""

    def __init__(self, spec: ServiceSpec, compiled: CompiledWsdl) -> None:
        self.spec = spec
        self.compiled = compiled
        self.serializer = RequestSerializer(compiled)
        self.port_name, self.binding_name, self.soap_version, address = _choose_port(compiled, spec)
        self.address = spec.endpoint or address
        if not self.address:
            raise WsdlError(
                f"{spec.name}: the port has no soap:address and no endpoint was given",
                construct="soap:address",
            )
        self.operations: dict[str, BoundOperation] = {}
        for op in compiled.operations:
            if op.binding != self.binding_name or op.name in self.operations:
                continue
            if op.input is None or op.output is None:
                continue  # one-way operations have no reply to translate
            self.operations[op.name] = BoundOperation(
                name=op.name,
                operation=op,
                address=self.address,
                soap_version=self.soap_version,
                input=compiled.message(op, "input"),
                output=compiled.message(op, "output"),
                idempotent=op.name in spec.idempotent,
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
        """Refuse a request that fails the input schema, naming every failing field.

        The operation's declared SOAP headers travel in the body under ``soap:Header`` (the
        translator's JSON of the header elements, validated against the header schema)."""
        body, headers = split_headers(data)
        _check(bound.input.validator, body, bound.name, "")
        if headers is not None:
            if not bound.input.shape.headers:
                raise RequestInvalidError(
                    f"{bound.name} declares no SOAP headers",
                    errors=[{"path": "/" + HEADER_KEY, "reason": "no headers are declared"}],
                )
            _check(bound.input.header_validator, headers, bound.name, "/" + HEADER_KEY)

    def build(
        self, bound: BoundOperation, data: Any, *, headers: Mapping[str, Any] | None = None
    ) -> SoapRequest:
        """The SOAP envelope and HTTP headers for a validated request (``headers``: the
        operation's declared SOAP headers, in the translator's JSON convention; by default
        those under the body's ``soap:Header`` key)."""
        data, carried = split_headers(data)
        if headers is None:
            headers = carried
        if not isinstance(data, dict):
            raise RequestInvalidError(
                f"the {bound.name} request must be a JSON object",
                errors=[{"path": "/", "reason": "a JSON object is expected"}],
            )
        security: list[etree._Element] = []
        auth = self.spec.auth
        if isinstance(auth, WsseAuth):
            password = auth.password.get_secret_value()
            security.append(username_token(auth.username, password, digest=auth.digest))
        envelope = self.serializer.envelope(
            bound.operation,
            data,
            soap_version=self.soap_version,
            headers=headers,
            extra_headers=security,
        )
        body = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
        http_headers = _http_headers(self.soap_version, bound.operation.soap_action)
        if isinstance(auth, BasicAuth):
            token = f"{auth.username}:{auth.password.get_secret_value()}"
            http_headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        return SoapRequest(bytes(body), http_headers)


def _http_headers(soap_version: SoapVersion, action: str | None) -> dict[str, str]:
    if soap_version == "1.2":
        content_type = "application/soap+xml; charset=utf-8"
        if action:
            content_type += f'; action="{action}"'
        return {"Content-Type": content_type}
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action or ""}"'}


HEADER_KEY = "soap:Header"


def split_headers(data: Any) -> tuple[Any, Any]:
    """(body, headers) of a request whose SOAP headers ride under ``soap:Header``."""
    if isinstance(data, dict) and HEADER_KEY in data:
        body = {k: v for k, v in data.items() if k != HEADER_KEY}
        return body, data[HEADER_KEY]
    return data, None


def _check(gate: SchemaGate, data: Any, operation: str, prefix: str) -> None:
    if gate.is_valid(data):
        return
    errors = [
        {"path": _join(prefix, _pointer(error)), "reason": describe_error(error)}
        for error in sorted(gate.reference.iter_errors(data), key=lambda e: list(e.path))[:20]
    ] or [{"path": prefix or "/", "reason": "the request failed schema validation"}]
    fields = ", ".join(e["path"] for e in errors)
    raise RequestInvalidError(
        f"the request does not fit the {operation} input schema: {fields}", errors=errors
    )


def _join(prefix: str, pointer: str) -> str:
    return prefix if prefix and pointer == "/" else prefix + pointer


def _pointer(error: Any) -> str:
    """The JSON pointer of a failing field; a missing required member is named itself."""
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [m for m in error.validator_value if m not in error.instance]
        if len(missing) == 1:
            path.append(str(missing[0]))
    return "/" + "/".join(path)


def bind_service(
    spec: ServiceSpec, compiled: CompiledWsdl, client: Any = None, *, wsdl_path: Path | str
) -> LoadedService:
    """Bind a registered service to its compiled WSDL (``client`` is accepted and ignored:
    requests no longer go through zeep)."""
    return LoadedService(spec, compiled)


def _choose_port(compiled: CompiledWsdl, spec: ServiceSpec) -> tuple[str, str, SoapVersion, str]:
    """(port name, binding local name, SOAP version, address) of the port to bind."""
    versions: dict[str, SoapVersion] = {}
    for op in compiled.operations:
        if op.soap_version is not None:
            versions.setdefault(op.binding, op.soap_version)
    description = compiled.loaded.description
    candidates: list[tuple[int, str, str, SoapVersion, str]] = []
    for entry in description.ports:
        port, binding, address = entry.name, entry.binding or "", entry.address
        version = versions.get(binding)
        if version is None:
            continue  # an HTTP binding, or a binding the WSDL does not define
        if spec.port is not None:
            if port == spec.port:
                return port, binding, version, address
            continue
        candidates.append((0 if version == "1.1" else 1, port, binding, version, address))
    if spec.port is not None:
        raise WsdlError(f"{spec.name}: no SOAP port named {spec.port!r}", construct="wsdl:port")
    if not candidates:
        # No port names a SOAP binding the WSDL defines: no wsdl:service at all, or a broken
        # binding reference (the WSDL 1.1 spec's own StockQuote example). Bind the first SOAP
        # binding; a lone port's address still applies, else the spec's endpoint must.
        dangling = [p for p in description.ports if (p.binding or "") not in versions]
        address = dangling[0].address if len(dangling) == 1 else ""
        for binding, version in versions.items():
            name = dangling[0].name if len(dangling) == 1 else binding
            candidates.append((0 if version == "1.1" else 1, name, binding, version, address))
        if candidates:
            logger.warning(
                "%s: no port names a SOAP binding of the WSDL; bound to binding %s",
                spec.name,
                min(candidates, key=lambda c: c[0])[2],
            )
    if not candidates:
        raise WsdlError(f"{spec.name}: the WSDL has no SOAP port", construct="wsdl:port")
    candidates.sort(key=lambda c: c[0])
    _, name, binding, version, address = candidates[0]
    return name, binding, version, address
