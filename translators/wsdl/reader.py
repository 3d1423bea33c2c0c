"""Read operations out of WSDL 1.1 ``definitions`` and WSDL 2.0 ``description`` documents.

WSDL 1.1: messages and port types give each operation's parts; a binding adds the SOAP
version (``soap``/``soap12`` binding namespaces), style (rpc/document), use
(literal/encoded), rpc namespace, body part selection, headers and faults. A port type with
no binding still yields its operations (style guessed from its parts, with a warning).

WSDL 2.0: interface operations name their input/output elements directly; bindings give the
SOAP version. Messages are always document style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from translators.wsdl.model import (
    FaultBinding,
    MessageBinding,
    MessagePart,
    Operation,
    Port,
    SoapVersion,
    Style,
    Use,
    WsdlDescription,
)
from translators.xml.names import (
    WSDL11,
    WSDL11_HTTP,
    WSDL11_MIME,
    WSDL11_SOAP,
    WSDL11_SOAP12,
    WSDL20,
    WSDL20_SOAP,
    clark,
    local_name,
    resolve_prefixed,
)
from translators.xsd.problems import ProblemLog

__all__ = ["WsdlDocument", "read_ports", "read_wsdl11", "read_wsdl20", "soap_version"]

_SOAP_BINDINGS = {WSDL11_SOAP: "1.1", WSDL11_SOAP12: "1.2"}


@dataclass(frozen=True)
class WsdlDocument:
    root: etree._Element
    location: str

    @property
    def target_namespace(self) -> str:
        return str(self.root.get("targetNamespace", "")).strip()


class _Table(dict[str, Any]):
    """Named WSDL components. A reference whose namespace is wrong but whose local name is
    unique is resolved anyway (sloppy WSDLs do this), with a warning."""

    def __init__(self, construct: str, problems: ProblemLog) -> None:
        super().__init__()
        self.construct = construct
        self.problems = problems

    def find(self, name: str | None) -> Any:
        if not name:
            return None
        if name in self:
            return self[name]
        matches = [k for k in self if local_name(k) == local_name(name)]
        if len(matches) == 1:
            self.problems.warn(
                self.construct, f"{name} not found; using {matches[0]} (same local name)"
            )
            return self[matches[0]]
        return None


def _w(local: str) -> str:
    return f"{{{WSDL11}}}{local}"


def _qname(value: str | None, node: etree._Element) -> str | None:
    """A QName reference; an undeclared prefix leaves the bare local name, which the
    component tables resolve when it is unique (with a warning)."""
    if not value:
        return None
    return resolve_prefixed(value, dict(node.nsmap)) or value.strip().rpartition(":")[2]


def _doc_text(node: etree._Element, namespace: str) -> str:
    doc = node.find(f"{{{namespace}}}documentation")
    return " ".join("".join(doc.itertext()).split()) if doc is not None else ""


# -- WSDL 1.1 ------------------------------------------------------------------------------
def read_wsdl11(documents: Sequence[WsdlDocument], problems: ProblemLog) -> WsdlDescription:
    messages = _Table("wsdl:message", problems)
    port_types = _Table("wsdl:portType", problems)
    bindings: list[tuple[str, etree._Element]] = []
    endpoints: list[tuple[str, str]] = []
    port_nodes: list[etree._Element] = []
    for document in documents:
        tns = document.target_namespace
        for node in document.root.iterchildren(_w("message")):
            messages.setdefault(clark(tns, node.get("name", "")), _parts(node, problems, document))
        for node in document.root.iterchildren(_w("portType")):
            port_types.setdefault(clark(tns, node.get("name", "")), node)
        for node in document.root.iterchildren(_w("binding")):
            bindings.append((clark(tns, node.get("name", "")), node))
        for service in document.root.iterchildren(_w("service")):
            for port in service.iterchildren(_w("port")):
                port_nodes.append(port)
                for address in port:
                    if isinstance(address.tag, str) and local_name(address.tag) == "address":
                        endpoints.append((port.get("name", ""), address.get("location", "")))
    operations: list[Operation] = []
    bound_port_types: set[str] = set()
    for binding_name, binding in bindings:
        port_type_name = _qname(binding.get("type"), binding)
        port_type = port_types.find(port_type_name)
        if port_type is None and binding.get("type") is None and len(port_types) == 1:
            port_type_name, port_type = next(iter(port_types.items()))
            problems.warn(
                "wsdl:binding",
                f"binding {local_name(binding_name)} has no type; using the only port type",
            )
        elif port_type is not None and port_type_name not in port_types:
            port_type_name = next(k for k, v in port_types.items() if v is port_type)
        if port_type is None:
            problems.error(
                "wsdl:binding",
                f"binding {local_name(binding_name)} names port type {binding.get('type')!r}, "
                "which is not defined; its operations are skipped",
                documents[0].location,
            )
            continue
        bound_port_types.add(port_type_name or "")
        operations.extend(_bound_operations(binding_name, binding, port_type, messages, problems))
    for name, port_type in port_types.items():
        if name not in bound_port_types:
            operations.extend(_unbound_operations(name, port_type, messages, problems))
    first = documents[0]
    ports = read_ports(port_nodes, bindings, problems, first.location)
    return WsdlDescription(
        first.location, "1.1", first.target_namespace, tuple(operations), tuple(endpoints), ports
    )


def soap_version(node: etree._Element, element: str) -> SoapVersion | None:
    """The SOAP version of a binding's (or port's) ``soap:binding`` (``soap:address``)."""
    for child in node:
        if isinstance(child.tag, str) and local_name(child.tag) == element:
            version = _SOAP_BINDINGS.get(child.tag[1:].partition("}")[0])
            if version is not None:
                return "1.1" if version == "1.1" else "1.2"
    return None


def read_ports(
    port_nodes: Sequence[etree._Element],
    bindings: Sequence[tuple[str, etree._Element]],
    problems: ProblemLog,
    location: str,
) -> tuple[Port, ...]:
    """Each port with the binding it uses. Lenient where WSDLs are sloppy, and says so: a
    port whose binding reference is broken binds to the one SOAP binding of its SOAP version
    when there is exactly one (the WSDL 1.1 spec's own StockQuote example names
    ``tns:StockQuoteBinding`` for a binding called ``StockQuoteSoapBinding``)."""
    table = _Table("wsdl:port", problems)
    for name, node in bindings:
        table.setdefault(name, node)
    ports: list[Port] = []
    for node in port_nodes:
        name = node.get("name", "")
        version = soap_version(node, "address")
        address = next(
            (
                str(child.get("location", ""))
                for child in node
                if isinstance(child.tag, str) and local_name(child.tag) == "address"
            ),
            "",
        )
        reference = node.get("binding")
        found = table.find(_qname(reference, node))
        binding: str | None = None
        if found is not None:
            binding = local_name(next(k for k, v in table.items() if v is found))
        else:
            soap = [
                (n, b)
                for n, b in bindings
                if soap_version(b, "binding") is not None
                and (version is None or soap_version(b, "binding") == version)
            ]
            if len(soap) == 1:
                binding = local_name(soap[0][0])
                problems.warn(
                    "wsdl:port",
                    f"port {name} names binding {reference!r}, which is not defined; bound to "
                    f"{binding}, the only SOAP{' ' + version if version else ''} binding",
                    location,
                )
            else:
                problems.error(
                    "wsdl:port",
                    f"port {name} names binding {reference!r}, which is not defined, and "
                    f"{len(soap)} SOAP bindings could stand in for it; the port is not usable",
                    location,
                )
        ports.append(Port(name, binding, address, version))
    return tuple(ports)


def _parts(
    node: etree._Element, problems: ProblemLog, document: WsdlDocument
) -> tuple[MessagePart, ...]:
    parts: list[MessagePart] = []
    for part in node.iterchildren(_w("part")):
        element = _qname(part.get("element"), part)
        type_name = _qname(part.get("type"), part)
        if element is None and type_name is None:
            problems.warn(
                "wsdl:part",
                f"part {part.get('name')!r} of message {node.get('name')!r} has neither "
                "element nor type; it is read as any content",
                document.location,
            )
        parts.append(MessagePart(part.get("name", ""), element, type_name))
    return tuple(parts)


def _find_port_type_operation(
    port_type: etree._Element, name: str, input_name: str | None, output_name: str | None
) -> etree._Element | None:
    candidates = [op for op in port_type.iterchildren(_w("operation")) if op.get("name") == name]
    if len(candidates) > 1:  # overloaded: pick by the input/output names
        for op in candidates:
            in_node, out_node = op.find(_w("input")), op.find(_w("output"))
            if (
                input_name is None or (in_node is not None and in_node.get("name") == input_name)
            ) and (
                output_name is None
                or (out_node is not None and out_node.get("name") == output_name)
            ):
                return op
    return candidates[0] if candidates else None


def _bound_operations(
    binding_name: str,
    binding: etree._Element,
    port_type: etree._Element,
    messages: _Table,
    problems: ProblemLog,
) -> Iterable[Operation]:
    soap_version: SoapVersion | None = None
    default_style: Style = "document"
    for child in binding:
        if not isinstance(child.tag, str):
            continue
        namespace = child.tag[1:].partition("}")[0]
        if local_name(child.tag) == "binding" and namespace in _SOAP_BINDINGS:
            soap_version = "1.1" if namespace == WSDL11_SOAP else "1.2"
            default_style = "rpc" if child.get("style") == "rpc" else "document"
        elif local_name(child.tag) == "binding" and namespace == WSDL11_HTTP:
            soap_version = None
    binding_local = local_name(binding_name)
    for bound in binding.iterchildren(_w("operation")):
        name = bound.get("name", "")
        bound_in, bound_out = bound.find(_w("input")), bound.find(_w("output"))
        abstract = _find_port_type_operation(
            port_type,
            name,
            bound_in.get("name") if bound_in is not None else None,
            bound_out.get("name") if bound_out is not None else None,
        )
        if abstract is None:
            # Nothing defines its messages, so there is no operation to translate.
            problems.warn(
                "wsdl:operation",
                f"binding {binding_local} binds operation {name!r}, which its port type "
                "lacks; ignored",
            )
            continue
        style = default_style
        soap_action = None
        for child in bound:
            if isinstance(child.tag, str) and local_name(child.tag) == "operation":
                if child.get("style") in ("rpc", "document"):
                    style = "rpc" if child.get("style") == "rpc" else "document"
                soap_action = child.get("soapAction", soap_action)
        faults = tuple(
            FaultBinding(
                fault.get("name", ""), messages.find(_qname(fault.get("message"), fault)) or ()
            )
            for fault in abstract.iterchildren(_w("fault"))
        )
        yield Operation(
            name=name,
            binding=binding_local,
            style=style,
            soap_version=soap_version,
            input=_message_binding(abstract.find(_w("input")), bound_in, messages, problems),
            output=_message_binding(abstract.find(_w("output")), bound_out, messages, problems),
            faults=faults,
            soap_action=soap_action,
            documentation=_doc_text(abstract, WSDL11),
        )


def _unbound_operations(
    port_type_name: str,
    port_type: etree._Element,
    messages: _Table,
    problems: ProblemLog,
) -> Iterable[Operation]:
    for abstract in port_type.iterchildren(_w("operation")):
        input_binding = _message_binding(abstract.find(_w("input")), None, messages, problems)
        output_binding = _message_binding(abstract.find(_w("output")), None, messages, problems)
        parts = [
            *(input_binding.parts if input_binding else ()),
            *(output_binding.parts if output_binding else ()),
        ]
        style: Style = "rpc" if parts and all(p.element is None for p in parts) else "document"
        problems.warn(
            "wsdl:portType",
            f"operation {abstract.get('name')!r} of port type {local_name(port_type_name)} has no "
            f"binding; read as {style}/literal",
        )
        yield Operation(
            name=abstract.get("name", ""),
            binding=local_name(port_type_name),
            style=style,
            soap_version=None,
            input=input_binding,
            output=output_binding,
            faults=tuple(
                FaultBinding(f.get("name", ""), messages.find(_qname(f.get("message"), f)) or ())
                for f in abstract.iterchildren(_w("fault"))
            ),
            documentation=_doc_text(abstract, WSDL11),
        )


def _message_binding(
    abstract: etree._Element | None,
    bound: etree._Element | None,
    messages: _Table,
    problems: ProblemLog,
) -> MessageBinding | None:
    if abstract is None:
        return None
    message_name = _qname(abstract.get("message"), abstract)
    parts = messages.find(message_name)
    if parts is None:
        problems.error(
            "wsdl:message",
            f"message {abstract.get('message')!r} is not defined; that direction accepts any body",
        )
        parts = ()
    use: Use = "literal"
    namespace = None
    body_parts: list[str] | None = None
    headers: list[MessagePart] = []
    mime = False
    if bound is not None:
        for ext in bound.iter():
            if not isinstance(ext.tag, str):
                continue
            ns, local = ext.tag[1:].partition("}")[0], local_name(ext.tag)
            if ns == WSDL11_MIME and local == "multipartRelated":
                mime = True
            if ns not in _SOAP_BINDINGS:
                continue
            if local == "body":
                use = "encoded" if ext.get("use") == "encoded" else "literal"
                namespace = ext.get("namespace") or namespace
                if ext.get("parts") is not None:
                    body_parts = ext.get("parts", "").split()
            elif local == "header":
                header_message = messages.find(_qname(ext.get("message"), ext)) or ()
                headers.extend(p for p in header_message if p.name == ext.get("part"))
    if body_parts is not None:
        parts = tuple(p for p in parts if p.name in body_parts)
    elif headers:
        # Without soap:body/@parts, parts bound to headers are not also in the body.
        parts = tuple(p for p in parts if p not in headers)
    return MessageBinding(message_name, parts, tuple(headers), use, namespace, mime)


# -- WSDL 2.0 ------------------------------------------------------------------------------
def _w2(local: str) -> str:
    return f"{{{WSDL20}}}{local}"


def read_wsdl20(documents: Sequence[WsdlDocument], problems: ProblemLog) -> WsdlDescription:
    interfaces = _Table("wsdl20:interface", problems)
    bindings: list[tuple[str, etree._Element]] = []
    endpoints: list[tuple[str, str]] = []
    ports: list[Port] = []
    for document in documents:
        tns = document.target_namespace
        for node in document.root.iterchildren(_w2("interface")):
            interfaces.setdefault(clark(tns, node.get("name", "")), node)
        for node in document.root.iterchildren(_w2("binding")):
            bindings.append((clark(tns, node.get("name", "")), node))
        for service in document.root.iterchildren(_w2("service")):
            for endpoint in service.iterchildren(_w2("endpoint")):
                endpoints.append((endpoint.get("name", ""), endpoint.get("address", "")))
                binding_ref = endpoint.get("binding", "").rpartition(":")[2]
                address = endpoint.get("address", "")
                ports.append(Port(endpoint.get("name", ""), binding_ref or None, address, None))
    operations: list[Operation] = []
    bound: set[str] = set()
    for binding_name, binding in bindings:
        interface_name = _qname(binding.get("interface"), binding)
        interface = interfaces.find(interface_name)
        if interface is None:
            problems.error(
                "wsdl20:binding",
                f"binding {local_name(binding_name)} names interface "
                f"{binding.get('interface')!r}, which is not defined; skipped",
            )
            continue
        bound.add(interface_name or "")
        version: SoapVersion | None = None
        if binding.get("type") == WSDL20_SOAP:
            version = "1.1" if binding.get(f"{{{WSDL20_SOAP}}}version") == "1.1" else "1.2"
        operations.extend(
            _interface_operations(
                local_name(binding_name), interface, interfaces, version, problems
            )
        )
    for name, interface in interfaces.items():
        if name not in bound:
            problems.warn("wsdl20:interface", f"interface {local_name(name)} has no binding")
            operations.extend(
                _interface_operations(local_name(name), interface, interfaces, None, problems)
            )
    first = documents[0]
    return WsdlDescription(
        first.location,
        "2.0",
        first.target_namespace,
        tuple(operations),
        tuple(endpoints),
        tuple(ports),
    )


def _interface_operations(
    binding: str,
    interface: etree._Element,
    interfaces: _Table,
    version: SoapVersion | None,
    problems: ProblemLog,
    seen: frozenset[str] = frozenset(),
) -> Iterable[Operation]:
    faults = {
        fault.get("name", ""): _qname(fault.get("element"), fault)
        for fault in interface.iterchildren(_w2("fault"))
    }
    for op in interface.iterchildren(_w2("operation")):
        yield Operation(
            name=op.get("name", ""),
            binding=binding,
            style="document",
            soap_version=version,
            input=_w2_message(op.find(_w2("input")), problems),
            output=_w2_message(op.find(_w2("output")), problems),
            faults=tuple(
                FaultBinding(local_name(ref), (MessagePart("fault", faults.get(local_name(ref))),))
                for f in op.iterchildren(_w2("outfault"), _w2("infault"))
                if (ref := _qname(f.get("ref"), f) or "")
            ),
            documentation=_doc_text(op, WSDL20),
        )
    for extended in interface.get("extends", "").split():
        name = _qname(extended, interface)
        if name and name in interfaces and name not in seen:
            yield from _interface_operations(
                binding, interfaces[name], interfaces, version, problems, seen | {name}
            )


def _w2_message(node: etree._Element | None, problems: ProblemLog) -> MessageBinding | None:
    if node is None:
        return None
    element = node.get("element", "#other").strip()
    if element == "#none":
        return MessageBinding(None, ())
    if element in ("#any", "#other"):
        return MessageBinding(None, (MessagePart("body"),))
    name = _qname(element, node)
    if name is None:
        problems.error("wsdl20:input/output", f"element {element!r} uses an undeclared prefix")
        return MessageBinding(None, (MessagePart("body"),))
    return MessageBinding(None, (MessagePart(local_name(name), name),))
