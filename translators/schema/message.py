"""The shape of one operation message: which body (and header) elements it carries and how
each becomes a key of the translated JSON object.

The translated JSON mirrors the SOAP Body: one key per body element, named by its local name.

- document style: each part is a global element (or, in sloppy WSDLs, a type, read as an
  element named after the part);
- rpc style: one wrapper named after the operation (input) or, by convention, the operation
  plus ``Response`` (output; SOAP 1.1 says the name is not significant, so any single wrapper
  is accepted, with a warning); the parts are its children, in any order.

With ``use="encoded"`` every element may be nil (SOAP encoding represents null that way).
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import MessageMismatchError
from translators.wsdl.model import Direction, MessagePart, Operation
from translators.xml.names import clark, local_name
from translators.xsd.compiler import SchemaSet
from translators.xsd.model import ComplexType, ElementDecl, ElementParticle, GroupParticle
from translators.xsd.problems import ProblemLog

__all__ = ["BodyEntry", "MessageShape", "element_shape", "message_shape"]


@dataclass(frozen=True)
class BodyEntry:
    key: str
    element: ElementDecl
    required: bool = True
    rpc_wrapper: bool = False  # accept any wrapper name (rpc output), warning if unusual


@dataclass(frozen=True)
class MessageShape:
    operation: str
    direction: Direction | None
    style: str
    encoded: bool
    body: tuple[BodyEntry, ...]
    headers: tuple[BodyEntry, ...] = ()
    any_body: bool = False  # a part with neither element nor type: anything goes


def message_shape(
    operation: Operation, direction: Direction, schemas: SchemaSet, log: ProblemLog
) -> MessageShape:
    binding = operation.message(direction)
    if binding is None:
        raise MessageMismatchError(
            f"operation {operation.name} has no {direction} message", path="/Body"
        )
    encoded = binding.use == "encoded"
    headers = tuple(
        BodyEntry(local_name(decl.name), decl, required=False)
        for part in binding.headers
        if (decl := _part_element(part, schemas, log, qualify=None)) is not None
    )
    if operation.style == "rpc":
        namespace = binding.namespace or ""
        wrapper_type = ComplexType(None)
        particles = []
        for part in binding.parts:
            decl = _part_element(part, schemas, log, qualify=None)
            if decl is not None:
                particles.append(ElementParticle(0 if encoded else 1, 1, decl))
        wrapper_type.content = GroupParticle(1, 1, "all", list(particles))
        name = operation.name if direction == "input" else operation.name + "Response"
        wrapper = ElementDecl(clark(namespace, name), wrapper_type)
        entry = BodyEntry(name, wrapper, True, rpc_wrapper=direction == "output")
        return MessageShape(operation.name, direction, "rpc", encoded, (entry,), headers)
    entries: list[BodyEntry] = []
    any_body = False
    for part in binding.parts:
        if part.element is None and part.type is None:
            any_body = True
            continue
        decl = _part_element(part, schemas, log, qualify=None)
        if decl is not None:
            entries.append(BodyEntry(_unique_key(local_name(decl.name), entries), decl))
    return MessageShape(
        operation.name, direction, "document", encoded, tuple(entries), headers, any_body
    )


def element_shape(decl: ElementDecl) -> MessageShape:
    """A message that is one global element (a bare XSD instead of a WSDL)."""
    return MessageShape(
        local_name(decl.name), None, "document", False, (BodyEntry(local_name(decl.name), decl),)
    )


def _part_element(
    part: MessagePart, schemas: SchemaSet, log: ProblemLog, qualify: str | None
) -> ElementDecl | None:
    if part.element is not None:
        decl = schemas.element(part.element)
        if decl is None:
            log.error(
                "wsdl:part",
                f"part {part.name!r} names element {part.element}, which no schema declares; "
                "it accepts any content",
            )
            return ElementDecl(part.element, schemas.any_type)
        return decl
    if part.type is not None:
        xsd_type = schemas.type(part.type)
        if xsd_type is None:
            log.error(
                "wsdl:part",
                f"part {part.name!r} names type {part.type}, which no schema defines; "
                "it accepts any content",
            )
            xsd_type = schemas.any_type
        return ElementDecl(clark(qualify, part.name), xsd_type)
    return ElementDecl(part.name, schemas.any_type)


def _unique_key(key: str, entries: list[BodyEntry]) -> str:
    taken = {e.key for e in entries}
    if key not in taken:
        return key
    n = 2
    while f"{key}~{n}" in taken:
        n += 1
    return f"{key}~{n}"
