"""The validation gate every translation passes before it is returned.

The fast path is fastjsonschema (the schema compiled to Python once, ~20x quicker than the
``jsonschema`` reference implementation on these documents); on a failure, ``jsonschema``
re-validates to produce the precise error. The generated schemas use only keywords both
implement identically (``dependentRequired`` is mirrored by draft-7 ``dependencies``), and a
congruence test checks that the two agree on the corpus and on mutated documents.
Compilation is lazy, so a WSDL with thousands of operations pays only for what it uses.
"""

from __future__ import annotations

import threading
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["SchemaGate"]


class SchemaGate:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._fast: Any = None
        self._full: Draft202012Validator | None = None
        self._empty_valid: bool | None = None  # the verdict on {} (validation is pure)
        self._lock = threading.Lock()

    def _compiled(self) -> Any:
        if self._fast is None:
            with self._lock:
                if self._fast is None:
                    self._fast = fastjsonschema.compile(
                        self.schema, use_default=False, use_formats=False
                    )
        return self._fast

    @property
    def reference(self) -> Draft202012Validator:
        if self._full is None:
            self._full = Draft202012Validator(self.schema)
        return self._full

    def is_valid(self, instance: Any) -> bool:
        if type(instance) is dict and not instance:  # e.g. the headers of most messages
            if self._empty_valid is None:
                self._empty_valid = self._check(instance)
            return self._empty_valid
        return self._check(instance)

    def _check(self, instance: Any) -> bool:
        try:
            (self._fast or self._compiled())(instance)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def error(self, instance: Any) -> ValidationError | None:
        """The most relevant error (from the reference validator), or None when valid."""
        error: ValidationError | None = best_match(self.reference.iter_errors(instance))
        return error
