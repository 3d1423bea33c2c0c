"""SOAP envelopes: find the header entries, the body's message elements and any Fault.

A document whose root is not a SOAP Envelope is taken as a bare message (its root is the one
body element), so payloads without an envelope translate too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree

from rag.errors import MessageMismatchError, SoapFaultError
from translators.convert.context import ConversionContext
from translators.convert.jsonout import plain
from translators.convert.schemaless import SchemalessConverter
from translators.xml.names import SOAP11_ENC, SOAP11_ENV, SOAP12_ENV, XML, local_name, namespace_of

__all__ = ["Envelope", "fault_error", "open_envelope"]

SoapVersion = Literal["1.1", "1.2"]
_VERSIONS: dict[str, SoapVersion] = {SOAP11_ENV: "1.1", SOAP12_ENV: "1.2"}
_ROOT_ATTR = f"{{{SOAP11_ENC}}}root"
# Envelope tag -> (SOAP version, Header tag, Body tag); the Fault tags of both versions.
_ENVELOPES: dict[str, tuple[SoapVersion, str, str]] = {
    f"{{{ns}}}Envelope": (version, f"{{{ns}}}Header", f"{{{ns}}}Body")
    for ns, version in _VERSIONS.items()
}
_FAULTS = frozenset(f"{{{ns}}}Fault" for ns in _VERSIONS)


@dataclass(frozen=True)
class Envelope:
    soap_version: SoapVersion | None  # None: a bare message without an envelope
    headers: tuple[etree._Element, ...]
    messages: tuple[etree._Element, ...]  # body elements that are the message (not multiRefs)
    body: etree._Element  # the Body (or the bare root), where multiRef targets live
    fault: etree._Element | None


def open_envelope(root: etree._Element) -> Envelope:
    tag = root.tag
    if tag not in _ENVELOPES:
        namespace = namespace_of(tag)
        if local_name(tag) == "Envelope" and namespace.startswith("http://schemas.xmlsoap.org/"):
            raise MessageMismatchError(
                f"unknown SOAP envelope namespace {namespace!r}", path="/Envelope"
            )
        return Envelope(None, (), (root,), root, None)
    version, header_tag, body_tag = _ENVELOPES[tag]
    # The first Header and the first Body child, as ``root.find`` gives them (one pass).
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in root:
        child_tag = child.tag
        if child_tag == body_tag:
            if body is None:
                body = child
                if header is not None:
                    break
        elif child_tag == header_tag and header is None:
            header = child
            if body is not None:
                break
    if body is None:
        raise MessageMismatchError("the SOAP envelope has no Body", path="/Envelope")
    children = [c for c in body if isinstance(c.tag, str)]
    fault: etree._Element | None = None
    for child in children:
        if child.tag in _FAULTS:
            fault = child
            break
    messages: tuple[etree._Element, ...]
    if len(children) == 1 and fault is None:  # the common body: one message element
        only = children[0]
        ident = only.get("id")
        if only.get(_ROOT_ATTR) == "0" or (ident is not None and ident in _referenced_ids(body)):
            messages = ()
        else:
            messages = (only,)
    else:
        referenced = (
            _referenced_ids(body) if any(c.get("id") is not None for c in children) else set()
        )
        messages = tuple(
            c
            for c in children
            if c is not fault
            and c.get(_ROOT_ATTR) != "0"
            and (c.get("id") is None or c.get("id") not in referenced)
        )
    headers = tuple(c for c in header if isinstance(c.tag, str)) if header is not None else ()
    return Envelope(version, headers, messages, body, fault)


def _referenced_ids(body: etree._Element) -> set[str]:
    refs: set[str] = set()
    for href in body.xpath(".//@href"):
        value = str(href)
        if value.startswith("#"):
            refs.add(value[1:])
    return refs


def _child(node: etree._Element, name: str) -> etree._Element | None:
    """A child by local name, qualified or not (real faults mix both)."""
    for child in node:
        if isinstance(child.tag, str) and local_name(child.tag) == name:
            return child
    return None


def _text(node: etree._Element | None) -> str:
    return " ".join("".join(node.itertext()).split()) if node is not None else ""


def fault_error(
    fault: etree._Element,
    soap_version: SoapVersion,
    *,
    detail_converter: Any = None,
    max_nodes: int = 100_000,
) -> SoapFaultError:
    """A :class:`SoapFaultError` carrying the fault's code, reason, actor and detail.

    Both layouts are read whatever the envelope says (real services mix them): SOAP 1.1
    ``faultcode``/``faultstring``/``faultactor``/``detail`` and SOAP 1.2
    ``Code/Value``/``Subcode``/``Reason/Text``/``Node``/``Role``/``Detail``. ``detail`` becomes
    JSON by the schema-less convention (or ``detail_converter(element)`` when given).
    """
    code_node = _child(fault, "Code")
    subcodes: list[str] = []
    if code_node is not None:
        code = _text(_child(code_node, "Value"))
        sub = _child(code_node, "Subcode")
        while sub is not None and len(subcodes) < 16:
            subcodes.append(_text(_child(sub, "Value")))
            sub = _child(sub, "Subcode")
        reason_node = _child(fault, "Reason")
        texts = [
            t for t in (reason_node if reason_node is not None else []) if isinstance(t.tag, str)
        ]
        english = next((t for t in texts if (t.get(f"{{{XML}}}lang") or "").startswith("en")), None)
        reason = _text(english if english is not None else (texts[0] if texts else None))
        actor = _text(_child(fault, "Role")) or _text(_child(fault, "Node")) or None
        detail_node = _child(fault, "Detail")
    else:
        code = _text(_child(fault, "faultcode"))
        reason = _text(_child(fault, "faultstring"))
        actor = _text(_child(fault, "faultactor")) or None
        detail_node = _child(fault, "detail")
    detail: Any = None
    if detail_node is not None and (len(detail_node) or (detail_node.text or "").strip()):
        converter = detail_converter or SchemalessConverter()
        ctx = ConversionContext(max_nodes=max_nodes)
        if len(detail_node):
            detail = {}
            for entry in detail_node:
                if isinstance(entry.tag, str):
                    value = (
                        converter.value(entry, ctx)
                        if detail_converter is None
                        else detail_converter(entry)
                    )
                    key = local_name(entry.tag)
                    if key in detail:
                        existing = detail[key]
                        detail[key] = (
                            [*existing, value] if isinstance(existing, list) else [existing, value]
                        )
                    else:
                        detail[key] = value
        else:
            detail = (detail_node.text or "").strip()
    summary = f"SOAP fault {code or '(no code)'}: {reason or '(no reason)'}"
    return SoapFaultError(
        summary,
        fault_code=code,
        reason=reason,
        actor=actor,
        fault_detail=plain(detail),
        soap_version=soap_version,
        subcodes=tuple(subcodes),
    )
