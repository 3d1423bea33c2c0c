"""The translator with its fast paths switched off, as the oracle of their tests: every
shortcut must give exactly what the general path gives (data, schema ids, warnings,
deviations, errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from lxml import etree

from rag.errors import MessageMismatchError
from translators.convert import envelope as envelope_module
from translators.convert.context import ConversionContext
from translators.convert.envelope import _ROOT_ATTR, _VERSIONS, Envelope, _referenced_ids
from translators.convert.typed import TypedConverter
from translators.result import Translation
from translators.schema.gate import SchemaGate
from translators.service import TranslatorService
from translators.xml.names import local_name, namespace_of
from translators.xsd.model import ElementDecl


def reference_envelope(root: etree._Element) -> Envelope:
    """``open_envelope`` as it was written before its one-pass version (``find``, generic
    name checks, no single-child shortcut)."""
    namespace = namespace_of(root.tag)
    if local_name(root.tag) != "Envelope" or namespace not in _VERSIONS:
        if local_name(root.tag) == "Envelope" and namespace.startswith(
            "http://schemas.xmlsoap.org/"
        ):
            raise MessageMismatchError(
                f"unknown SOAP envelope namespace {namespace!r}", path="/Envelope"
            )
        return Envelope(None, (), (root,), root, None)
    version = _VERSIONS[namespace]
    header = root.find(f"{{{namespace}}}Header")
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise MessageMismatchError("the SOAP envelope has no Body", path="/Envelope")
    children = [c for c in body if isinstance(c.tag, str)]
    fault = next(
        (c for c in children if local_name(c.tag) == "Fault" and namespace_of(c.tag) in _VERSIONS),
        None,
    )
    referenced = _referenced_ids(body) if any(c.get("id") is not None for c in children) else set()
    messages = tuple(
        c
        for c in children
        if c is not fault
        and c.get(_ROOT_ATTR) != "0"
        and (c.get("id") is None or c.get("id") not in referenced)
    )
    headers = tuple(c for c in header if isinstance(c.tag, str)) if header is not None else ()
    return Envelope(version, headers, messages, body, fault)


def _general_element(
    self: TypedConverter, element: etree._Element, decl: ElementDecl, ctx: ConversionContext
) -> Any:
    ctx.count(element)
    return self._attributed(element, decl, ctx)


def _constructed(
    cls: type[Translation], /, data: Any, schema_id: str, **fields: Any
) -> Translation:
    return Translation(data, schema_id, "typed", **fields)


@contextmanager
def slow_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(TypedConverter, "element", _general_element)
        patch.setattr(envelope_module, "open_envelope", reference_envelope)
        patch.setattr("translators.service.open_envelope", reference_envelope)
        patch.setattr(TranslatorService, "settle_first_fit", False)
        patch.setattr(SchemaGate, "is_valid", SchemaGate._check)
        patch.setattr(Translation, "typed", classmethod(_constructed))
        yield


def outcome(call: Any) -> Any:
    """What a translation gives, comparable: the full body and widened schemas, or the
    error's class, detail and extra members."""
    try:
        translation = call()
    except Exception as exc:  # the errors must agree too
        return ("error", type(exc).__name__, str(exc), repr(getattr(exc, "extra", None)))
    return (
        translation.as_dict(),
        translation.widened_schema,
        translation.widened_header_schema,
        repr(translation),
    )
