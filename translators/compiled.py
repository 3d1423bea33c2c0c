"""A loaded WSDL with everything translation needs, compiled once and shared by requests.

Compilation (message shapes, JSON Schemas, validators) happens lazily per operation and
direction under a lock; what it produces is never changed afterwards, so conversions run
concurrently without locking.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rag.errors import MessageMismatchError, NotFoundError
from translators.convert.typed import TypedConverter
from translators.convert.values import ValueConverters
from translators.schema.gate import SchemaGate
from translators.schema.generate import SchemaGenerator
from translators.schema.layout import LayoutCache
from translators.schema.message import MessageShape, element_shape, message_shape
from translators.wsdl.loader import LoadedWsdl
from translators.wsdl.model import Direction, Operation
from translators.xml.names import local_name

__all__ = ["CompiledMessage", "CompiledWsdl"]


@dataclass(frozen=True)
class CompiledMessage:
    operation: Operation | None  # None for a global element of a bare XSD
    direction: Direction | None
    shape: MessageShape
    schema: dict[str, Any]
    header_schema: dict[str, Any]
    validator: SchemaGate
    header_validator: SchemaGate

    @property
    def schema_id(self) -> str:
        return str(self.schema["$id"])


class CompiledWsdl:
    def __init__(self, loaded: LoadedWsdl, *, name: str) -> None:
        self.loaded = loaded
        self.name = name
        self.layouts = LayoutCache()
        self.values = ValueConverters()
        self.converter = TypedConverter(loaded.schemas, self.layouts, self.values)
        self._messages: dict[tuple[str, str | None], CompiledMessage] = {}
        # The translator's candidate messages per (body element names, SOAP version,
        # operation, direction): insertion-ordered, bounded by the translator.
        self.candidate_cache: dict[tuple[Any, ...], list[CompiledMessage]] = {}
        # Keys of the same kind whose messages needed the lenient conversion (an ordered set).
        self.deviating_shapes: dict[tuple[Any, ...] | None, None] = {}
        self._lock = threading.RLock()

    @property
    def operations(self) -> tuple[Operation, ...]:
        return self.loaded.description.operations

    @property
    def fingerprint(self) -> str:
        return self.loaded.fingerprint

    def find_operations(self, name: str) -> list[Operation]:
        """Operations called ``name`` or keyed ``binding/name``."""
        return [op for op in self.operations if name in (op.name, op.key)]

    def message(self, operation: Operation, direction: Direction) -> CompiledMessage:
        key = (operation.key, direction)
        compiled = self._messages.get(key)
        if compiled is not None:
            return compiled
        with self._lock, self.loaded.schemas.lock:
            compiled = self._messages.get(key)
            if compiled is None:
                shape = message_shape(operation, direction, self.loaded.schemas, self.loaded.log)
                compiled = self._compile(operation, direction, shape)
                self._messages[key] = compiled
        return compiled

    def compiled_messages(self) -> list[CompiledMessage]:
        return list(self._messages.values())

    def element_message(self, element_name: str) -> CompiledMessage:
        """For a bare XSD: the message that is the global element ``element_name``."""
        key = ("element:" + element_name, None)
        compiled = self._messages.get(key)
        if compiled is not None:
            return compiled
        with self._lock:
            decl = self.loaded.schemas.element(element_name)
            if decl is None:
                raise MessageMismatchError(
                    f"no global element {element_name} in the schema", path="/"
                )
            compiled = self._compile(None, None, element_shape(decl))
            self._messages[key] = compiled
        return compiled

    def _compile(
        self, operation: Operation | None, direction: Direction | None, shape: MessageShape
    ) -> CompiledMessage:
        base = f"urn:mmrag:translator:{self.fingerprint[:16]}:"
        if operation is not None:
            label = f"{operation.key}:{direction}"
            title = f"{operation.name} {direction} ({self.name})"
        else:
            label = f"element:{shape.operation}"
            title = f"{shape.operation} ({self.name})"
        schema = SchemaGenerator(self.layouts, self.values).message_schema(
            shape, schema_id=base + label, title=title
        )
        header_schema = SchemaGenerator(self.layouts, self.values).header_schema(
            shape, schema_id=base + label + ":headers", title=title + " headers"
        )
        return CompiledMessage(
            operation,
            direction,
            shape,
            schema,
            header_schema,
            SchemaGate(schema),
            SchemaGate(header_schema),
        )

    def operation(self, name: str) -> Operation:
        found = self.find_operations(name)
        if not found:
            names = sorted({op.name for op in self.operations})
            raise NotFoundError(
                f"no operation {name!r} in {self.name}; it has: {', '.join(names) or 'none'}",
                operation=name,
            )
        return found[0]

    def global_elements(self) -> list[str]:
        return sorted(self.loaded.schemas.global_element_names(), key=local_name)
