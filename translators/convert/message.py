"""Convert the body (and headers) of one SOAP message by its operation's message shape, and
find which operation and direction a message belongs to."""

from __future__ import annotations

from typing import Any

from lxml import etree

from rag.errors import MessageMismatchError
from translators.convert.context import ConversionContext, mismatch
from translators.convert.typed import TypedConverter
from translators.schema.message import BodyEntry, MessageShape
from translators.xml.names import local_name, namespace_of
from translators.xsd.model import ComplexType

__all__ = [
    "content_fits",
    "convert_body",
    "convert_headers",
    "first_child_tags",
    "renamed_matches",
    "shape_matches",
    "wrapper_named",
]


def _entry_for(
    child: etree._Element, shape: MessageShape, ctx: ConversionContext | None
) -> BodyEntry | None:
    tag = child.tag
    for entry in shape.body:
        if entry.element.name == tag:
            return entry
    if shape.style == "rpc":
        entry = shape.body[0]
        wrapper = local_name(entry.element.name)
        if local_name(tag) == wrapper or (entry.rpc_wrapper and _plausible_wrapper(shape, child)):
            if ctx is not None and tag != entry.element.name:
                ctx.warn(
                    f"rpc wrapper {tag} read as {entry.element.name}"
                    + (
                        " (the response wrapper's name is not significant)"
                        if entry.rpc_wrapper
                        else ""
                    )
                )
            return entry
        return _renamed(child, shape, ctx)
    same_local = [e for e in shape.body if local_name(e.element.name) == local_name(tag)]
    if len(same_local) == 1:
        if ctx is not None:
            ctx.warn(f"body element {tag} read as {same_local[0].element.name} (other namespace)")
        return same_local[0]
    return _renamed(child, shape, ctx)


def wrapper_named(shape: MessageShape, tag: str) -> bool:
    """The element is named after the operation, as an rpc wrapper would be
    (``<op>`` for a request, ``<op>Response`` for a reply; case aside)."""
    if len(shape.body) != 1:
        return False
    expected = shape.operation + ("Response" if shape.direction == "output" else "")
    return local_name(tag).lower() == expected.lower()


def _renamed(
    child: etree._Element, shape: MessageShape, ctx: ConversionContext | None
) -> BodyEntry | None:
    """The declared-deviation rule for a body element named otherwise than the message's
    single part: accepted when named after the operation (``wrapper_named``), or, for an rpc
    reply, as any single wrapper; only when the conversion is lenient."""
    if ctx is None or ctx.deviations is None or len(shape.body) != 1:
        return None
    entry = shape.body[0]
    if not (wrapper_named(shape, child.tag) or entry.rpc_wrapper):
        return None
    ctx.path[:] = []
    ctx.deviate(
        "wrapper",
        entry.element.name,
        str(child.tag),
        at=(entry.key,),
    )
    return entry


def _plausible_wrapper(shape: MessageShape, child: etree._Element) -> bool:
    """An rpc response wrapper need not be called <operation>Response (SOAP 1.1 says the
    name is not significant); accept one named after the operation or in its namespace."""
    namespace = namespace_of(shape.body[0].element.name)
    return local_name(child.tag).lower().startswith(shape.operation.lower()) or (
        bool(namespace) and namespace_of(child.tag) == namespace
    )


def renamed_matches(shape: MessageShape, messages: tuple[etree._Element, ...]) -> bool:
    """Whether a lenient conversion may read this body as the shape's single part under
    another name (see ``_renamed``): one body element, named after the operation, or any
    name for an rpc reply."""
    if len(messages) != 1 or len(shape.body) != 1:
        return False
    return shape.body[0].rpc_wrapper or wrapper_named(shape, messages[0].tag)


def shape_matches(shape: MessageShape, messages: tuple[etree._Element, ...]) -> int:
    """How well the body elements fit the shape: 3 exact names, 2 same local names,
    1 an rpc response wrapper with an unconventional name, 0 not at all."""
    if not messages:
        return 3 if not any(e.required for e in shape.body) else 0
    if shape.any_body and not shape.body:
        return 1
    score = 3
    for child in messages:
        if any(e.element.name == child.tag for e in shape.body):
            continue
        if shape.style == "rpc" and shape.body:
            expected = local_name(shape.body[0].element.name)
            if local_name(child.tag) == expected:
                score = min(score, 2)
            elif (
                shape.body[0].rpc_wrapper
                and len(messages) == 1
                and _plausible_wrapper(shape, child)
            ):
                score = min(score, 1)
            else:
                return 0
            continue
        if _entry_for(child, shape, None) is None:
            return 0
        score = min(score, 2)
    return score


def first_child_tags(messages: tuple[etree._Element, ...]) -> tuple[str | None, ...]:
    """The first child element's tag of each body element (None for one without)."""
    tags: list[str | None] = []
    for message in messages:
        first = next(message.iterchildren(etree.Element), None)
        tags.append(None if first is None else first.tag)
    return tuple(tags)


def content_fits(
    shape: MessageShape,
    messages: tuple[etree._Element, ...],
    first_tags: tuple[str | None, ...],
    converter: TypedConverter,
) -> int:
    """How many body elements open with a child their candidate's type declares: the
    tie-break between candidates whose body elements are named alike (an rpc operation's
    request and reply share the wrapper's name, the parts tell them apart)."""
    fits = 0
    for message, tag in zip(messages, first_tags, strict=True):
        if tag is None:
            continue
        entry = _entry_for(message, shape, None)
        if entry is None:
            continue
        xsd_type = entry.element.type
        if not isinstance(xsd_type, ComplexType) or xsd_type.is_any or xsd_type.array is not None:
            continue
        if tag in converter.layouts.get(xsd_type).by_name:
            fits += 1
    return fits


def convert_body(
    shape: MessageShape,
    messages: tuple[etree._Element, ...],
    converter: TypedConverter,
    ctx: ConversionContext,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in messages:
        entry = _entry_for(child, shape, ctx)
        if entry is None:
            if shape.any_body:
                out[local_name(child.tag)] = converter.schemaless.value(child, ctx)
                continue
            expected = ", ".join(e.element.name for e in shape.body) or "an empty body"
            raise mismatch(
                child,
                f"body element {child.tag} does not belong to operation {shape.operation} "
                f"({shape.direction or 'message'}); expected {expected}",
            )
        if entry.key in out:
            raise mismatch(child, f"body element {local_name(child.tag)} occurs twice")
        if ctx.deviations is not None:
            ctx.path[:] = [entry.key]
            out[entry.key] = converter.element(child, entry.element, ctx)
            ctx.path.clear()
        else:
            out[entry.key] = converter.element(child, entry.element, ctx)
    missing = [e.key for e in shape.body if e.required and e.key not in out]
    if missing:
        raise MessageMismatchError(
            f"the message lacks {', '.join(missing)} for operation {shape.operation}",
            path="/Envelope/Body",
        )
    return out


def convert_headers(
    shape: MessageShape,
    headers: tuple[etree._Element, ...],
    converter: TypedConverter,
    ctx: ConversionContext,
) -> dict[str, Any]:
    """Declared headers typed; others by the schema-less convention (listed in warnings)."""
    out: dict[str, Any] = {}
    declared = {e.element.name: e for e in shape.headers}
    ctx.part = "headers"
    for header in headers:
        entry = declared.get(header.tag)
        key = entry.key if entry is not None else local_name(header.tag)
        if entry is not None:
            if ctx.deviations is not None:
                ctx.path[:] = [key]
            value = converter.element(header, entry.element, ctx)
            ctx.path.clear()
        else:
            ctx.warn(f"header {header.tag} is not declared by the operation; read schema-less")
            value = converter.schemaless.value(header, ctx)
        if key in out:
            key = f"{key}~{namespace_of(header.tag) or 'local'}"
        out[key] = value
    ctx.part = "body"
    return out
