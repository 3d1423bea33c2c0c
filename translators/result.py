"""What a translation returns: the JSON, the schema it conforms to, and everything the
caller should know about how it was made (warnings, fallbacks, attachments, mapping)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from translators.convert.deviations import Deviation

__all__ = ["Fallback", "FallbackKind", "Translation"]

FallbackKind = Literal[
    "schemaless",  # the message did not fit its operation; generic JSON instead (opt-in)
    "mapping_similarity",  # the LLM's mapping proposal failed; name-similarity mapping used
    "mapping_repaired",  # the LLM's proposal was partly wrong; rules dropped or added
    "llm_message",  # the per-message LLM output was invalid twice; the mapped result used
    "llm_unavailable",  # the LLM could not be reached or timed out; deterministic result used
]


@dataclass(frozen=True)
class Fallback:
    kind: FallbackKind
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class Translation:
    data: Any  # conforms to ``schema_id``
    schema_id: str
    mode: Literal["typed", "schemaless", "mapped", "llm"]
    operation: str | None = None
    binding: str | None = None
    direction: str | None = None
    soap_version: str | None = None
    headers: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    attachments: tuple[dict[str, Any], ...] = ()
    mapping: dict[str, Any] | None = None
    source_schema_id: str | None = None  # when mapped: the schema of the typed source JSON
    extra: dict[str, Any] = field(default_factory=dict)
    # Declared deviations (policy "declare"): ``schema_id`` then names the operation's schema
    # widened at exactly these paths (``widened_schema``); ``base_schema_id`` the operation's.
    deviations: tuple[Deviation, ...] = ()
    base_schema_id: str | None = None
    widened_schema: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    widened_header_schema: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def typed(
        cls,
        data: Any,
        schema_id: str,
        *,
        operation: str | None,
        binding: str | None,
        direction: str | None,
        soap_version: str | None,
        headers: dict[str, Any] | None,
        warnings: tuple[str, ...],
    ) -> Translation:
        """``Translation(data, schema_id, "typed", ...)`` for a message that fits its schema,
        built without the frozen dataclass's ``object.__setattr__`` per field (the hot path
        of every translation; equal to the constructor's result)."""
        translation = object.__new__(cls)
        translation.__dict__.update(
            _TYPED_DEFAULTS,
            data=data,
            schema_id=schema_id,
            operation=operation,
            binding=binding,
            direction=direction,
            soap_version=soap_version,
            headers=headers,
            warnings=warnings,
            extra={},
        )
        return translation

    def as_dict(self) -> dict[str, Any]:
        """The response body: fixed key order, nothing that varies between runs."""
        body: dict[str, Any] = {
            "data": self.data,
            "schema": self.schema_id,
            "mode": self.mode,
            "operation": self.operation,
            "binding": self.binding,
            "direction": self.direction,
            "soap_version": self.soap_version,
        }
        if self.headers:
            body["headers"] = self.headers
        if self.base_schema_id is not None:
            body["base_schema"] = self.base_schema_id
        if self.deviations:
            body["deviations"] = [d.as_dict() for d in self.deviations]
        if self.source_schema_id is not None:
            body["source_schema"] = self.source_schema_id
        if self.mapping is not None:
            body["mapping"] = self.mapping
        body["fallbacks"] = [f.as_dict() for f in self.fallbacks]
        body["warnings"] = list(self.warnings)
        if self.attachments:
            body["attachments"] = list(self.attachments)
        return body


_TYPED_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(Translation) if f.default is not MISSING
} | {"mode": "typed"}
