"""zeep as a test oracle for the bridge's serializer: the same JSON, serialised by zeep.

The JSON (translator convention) is turned into zeep call arguments the way the bridge did
before it had its own serializer (``@attr`` -> ``attr``, ``#text`` -> ``_value_1``), and
both envelopes are reduced to a canonical tree: Clark names instead of prefixes, attributes
sorted, QName-valued ``xsi:type`` and ``soapenc:arrayType`` resolved, whitespace-only text
dropped. Two envelopes agree when their canonical ``Body`` trees are equal.

Documented difference (zeep is wrong): for ``use="encoded"`` zeep omits
``soap-env:encodingStyle`` on the rpc wrapper, which SOAP 1.1 section 4.1.1 uses to say how
the content is encoded; mmrag writes it. The canonical form drops that one attribute.
And for SOAP-encoded arrays zeep omits ``soapenc:arrayType`` (SOAP 1.1 section 5.4.2 says an
array MUST carry it) and names the items after their type where mmrag writes ``item`` (the
item name is not significant, same section), writing ``xsi:type`` on the items of some
arrays only; :func:`agree` compares such arrays by their items' content.
"""

from __future__ import annotations

import base64
from typing import Any

from lxml import etree

from translators.wsdl.model import Operation
from translators.xml.names import (
    SOAP11_ENC,
    SOAP11_ENV,
    SOAP12_ENV,
    XSI,
    local_name,
    resolve_prefixed,
)

QNAME_ATTRIBUTES = {f"{{{XSI}}}type", f"{{{SOAP11_ENC}}}arrayType"}
IGNORED_ATTRIBUTES = {f"{{{SOAP11_ENV}}}encodingStyle", f"{{{SOAP12_ENV}}}encodingStyle"}

Canonical = tuple[str, tuple[tuple[str, str], ...], str, tuple[Any, ...]]


def canonical(element: etree._Element) -> Canonical:
    attributes: list[tuple[str, str]] = []
    for name, value in element.attrib.items():
        if name in IGNORED_ATTRIBUTES:
            continue
        if name in QNAME_ATTRIBUTES:
            head, bracket, rest = value.partition("[")
            resolved = resolve_prefixed(head, dict(element.nsmap)) or head
            value = resolved + bracket + rest
        attributes.append((str(name), value))
    text = (element.text or "").strip()
    children = tuple(canonical(c) for c in element if isinstance(c.tag, str))
    return str(element.tag), tuple(sorted(attributes)), text, children


_ARRAY_TYPE = f"{{{SOAP11_ENC}}}arrayType"
_XSI_TYPE = f"{{{XSI}}}type"


def agree(ours: etree._Element, theirs: etree._Element) -> bool:
    """Whether mmrag's envelope and zeep's carry the same Body (see the module docstring)."""
    return _same(_body(ours), _body(theirs), array_item=False)


def _same(ours: etree._Element, theirs: etree._Element, *, array_item: bool) -> bool:
    if not array_item and ours.tag != theirs.tag:
        return False
    is_array = ours.get(_ARRAY_TYPE) is not None
    mine = canonical(ours)
    other = canonical(theirs)
    # On array items xsi:type is optional; zeep writes it for some item types only.
    dropped = {_ARRAY_TYPE, _XSI_TYPE} if array_item else {_ARRAY_TYPE}
    mine_attrs = tuple(a for a in mine[1] if a[0] not in dropped)
    other_attrs = tuple(a for a in other[1] if a[0] not in dropped)
    if mine_attrs != other_attrs or mine[2] != other[2]:
        return False
    kids = [c for c in ours if isinstance(c.tag, str)]
    others = [c for c in theirs if isinstance(c.tag, str)]
    if len(kids) != len(others):
        return False
    return all(_same(a, b, array_item=is_array) for a, b in zip(kids, others, strict=True))


def _body(envelope: etree._Element) -> etree._Element:
    return next(c for c in envelope if isinstance(c.tag, str) and local_name(c.tag) == "Body")


def body_of(envelope: etree._Element) -> Canonical:
    body = next(c for c in envelope if isinstance(c.tag, str) and local_name(c.tag) == "Body")
    return canonical(body)


def zeep_envelope(client: Any, binding: Any, operation: Operation, data: Any) -> etree._Element:
    message = binding.get(operation.name).input
    args, kwargs = arguments(operation, message, data)
    envelope, _headers = binding._create(operation.name, args, kwargs, client=client)
    return envelope


def arguments(
    operation: Operation, message: Any, data: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    body = message.body
    if body is None or not isinstance(data, dict):
        return (), {}
    if operation.style == "rpc":
        inner = data.get(local_name(body.qname.text)) if len(data) == 1 else None
        inner = inner if isinstance(inner, dict) else next(iter(data.values()), {})
        children = _children(body.type)
        return (), {k: _to_zeep(v, children.get(k)) for k, v in (inner or {}).items()}
    if getattr(message, "_is_body_wrapped", False):
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
    xsd_type = getattr(node, "type", None)
    if isinstance(value, list):
        return [_to_zeep(item, node) for item in value]
    if isinstance(value, dict):
        children = _children(xsd_type)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "@xsi:type":
                continue
            if key == "#text":
                out["_value_1"] = _to_zeep(item, node if xsd_type is None else xsd_type)
            elif key.startswith("@"):
                out[key[1:]] = _to_zeep(item, children.get(key))
            else:
                out[key.rpartition(":")[2]] = _to_zeep(item, children.get(key))
        return out
    if isinstance(value, str) and "Base64Binary" in _mro_names(xsd_type or node):
        return base64.b64decode(value)  # zeep encodes bytes itself
    if isinstance(value, str) and "HexBinary" in _mro_names(xsd_type or node):
        return value
    if isinstance(value, str) and value.startswith("{") and "QName" in _mro_names(xsd_type or node):
        return etree.QName(value)
    return value


def _mro_names(obj: Any) -> set[str]:
    return {cls.__name__ for cls in type(obj).__mro__}
