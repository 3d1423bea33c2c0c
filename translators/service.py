"""The translator façade: the one entry point the CLI and the HTTP API use.

``TranslatorService.translate`` takes XML bytes (a SOAP envelope, a bare message, or an
MTOM/XOP multipart body) and, with a WSDL, returns the typed JSON of the operation message it
belongs to; without one, the schema-less JSON. A SOAP Fault raises
:class:`~rag.errors.SoapFaultError`; bad or hostile XML raises the parser's errors; a message
that does not fit its operation raises :class:`~rag.errors.MessageMismatchError` unless the
caller (or the settings) chose otherwise: the default policy, ``declare``, keeps what does
not fit with the best type the XML supports and lists every deviation (see
:mod:`translators.convert.deviations`); ``error`` refuses; ``schemaless`` falls back to the
flagged schema-less convention. Every returned translation has been validated against the
schema it names (with deviations: the operation's schema widened exactly at them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.errors import BadInputError, MessageMismatchError, MmragError, NotFoundError
from translators.compiled import CompiledMessage, CompiledWsdl
from translators.convert.context import ConversionContext
from translators.convert.deviations import Deviation, widen, widened_id
from translators.convert.envelope import Envelope, fault_error, open_envelope
from translators.convert.message import (
    content_fits,
    convert_body,
    convert_headers,
    first_child_tags,
    renamed_matches,
    shape_matches,
)
from translators.convert.mtom import inline_xop, is_multipart, split_multipart
from translators.convert.schemaless import SCHEMALESS_SCHEMA, Arrays, SchemalessConverter
from translators.mapping.llm import CachedLLM
from translators.result import Fallback, Translation
from translators.schema.gate import SchemaGate
from translators.wsdl.loader import load_wsdl
from translators.wsdl.model import Direction
from translators.wsdl.resolver import DocumentResolver, HttpFetcher, httpx_fetcher
from translators.xml.names import local_name
from translators.xml.parser import XmlLimits, parse_xml

if TYPE_CHECKING:
    from lxml import etree

    from translators.config import TranslatorHost
    from translators.llm import LLMBackend

logger = logging.getLogger(__name__)

__all__ = ["TranslateOptions", "TranslatorService", "WsdlRef"]

OnMismatch = Literal["declare", "error", "schemaless"]
# Facet keywords: a value the converter produced that breaks one is a "facet" deviation.
_FACETS = frozenset(
    {
        "pattern",
        "minLength",
        "maxLength",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "multipleOf",
    }
)
_MAX_CANDIDATES = 4
_CANDIDATE_CACHE = 512  # candidate lists remembered per compiled WSDL
_SCHEMALESS_GATE = SchemaGate(SCHEMALESS_SCHEMA)


@dataclass(frozen=True)
class WsdlRef:
    """Where a WSDL comes from: a local path (CLI), a name under the configured WSDL folder
    (API), or uploaded documents (API; ``entry`` names the WSDL among them)."""

    path: Path | None = None
    name: str | None = None
    uploads: Mapping[str, bytes] | None = None
    entry: str | None = None

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.name is not None:
            return self.name
        return f"upload:{self.entry}"


@dataclass(frozen=True)
class TranslateOptions:
    operation: str | None = None
    direction: Direction | None = None
    content_type: str | None = None
    on_mismatch: OnMismatch | None = None  # None: the settings decide
    arrays: Arrays = "auto"  # schema-less mode only
    target_schema: Mapping[str, Any] | None = None
    mode: Literal["deterministic", "llm"] = "deterministic"


_DEFAULT_OPTIONS = TranslateOptions()


class TranslatorService:
    # Settle a candidate without deviations before converting the later ones (the order of
    # settling stays that of fewest deviations); off only to test that shortcut.
    settle_first_fit = True

    def __init__(
        self,
        settings: TranslatorHost,
        *,
        llm: Callable[[], LLMBackend] | None = None,
        http: HttpFetcher | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.translator
        self._llm = llm
        self._http = http if http is not None else httpx_fetcher
        self._cache: OrderedDict[tuple[Any, ...], CompiledWsdl] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._widened = _WidenedCache()
        self._default_policy: OnMismatch = self.config.on_mismatch
        self.message_limits = XmlLimits.for_messages(self.config)
        self.document_limits = XmlLimits.for_documents(self.config)

    @property
    def state_dir(self) -> Path:
        return self.settings.data_dir / "translator"

    # -- WSDLs ---------------------------------------------------------------------------
    def load(self, ref: WsdlRef) -> CompiledWsdl:
        quick = self._quick_key(ref)
        if quick is not None:
            with self._cache_lock:
                cached = self._cache.get(quick)
                if cached is not None:
                    self._cache.move_to_end(quick)
                    return cached
        key, resolver, location = self._resolver_for(ref)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        loaded = load_wsdl(
            location, resolver, self.document_limits, max_documents=self.config.max_documents
        )
        compiled = CompiledWsdl(loaded, name=ref.describe())
        for problem in loaded.problems:
            logger.debug("%s: %s", ref.describe(), problem)
        with self._cache_lock:
            self._cache[key] = compiled
            if quick is not None:
                self._cache[quick] = compiled
            while len(self._cache) > 2 * self.config.cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _quick_key(self, ref: WsdlRef) -> tuple[Any, ...] | None:
        """A cheap cache key for a local path (one stat, no path resolution)."""
        if ref.path is None or ref.uploads is not None or ref.name is not None:
            return None
        try:
            stat = os.stat(ref.path)
        except OSError:
            return None
        return ("quick", str(ref.path), stat.st_mtime_ns, stat.st_size)

    def _resolver_for(self, ref: WsdlRef) -> tuple[tuple[Any, ...], DocumentResolver, str]:
        common: dict[str, Any] = {
            "allowlist": self.config.remote_allowlist,
            "http": self._http,
            "cache_dir": self.state_dir / "remote",
            "max_bytes": self.config.max_document_bytes,
            "timeout_s": self.config.remote_timeout_s,
        }
        if ref.uploads is not None:
            entry = ref.entry or next(iter(ref.uploads), "")
            if entry not in ref.uploads:
                raise BadInputError("the WSDL upload names no entry document")
            digest = hashlib.sha256()
            for name in sorted(ref.uploads):
                digest.update(name.encode() + b"\0" + hashlib.sha256(ref.uploads[name]).digest())
            resolver = DocumentResolver(uploads=ref.uploads, **common)
            return ("upload", digest.hexdigest(), entry), resolver, entry
        if ref.name is not None:
            root = self.config.wsdl_dir
            if root is None:
                raise NotFoundError("WSDL references are disabled (no wsdl_dir is configured)")
            root = root.resolve()
            path = (root / ref.name).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise NotFoundError(f"no WSDL named {ref.name!r}", wsdl=ref.name)
            resolver = DocumentResolver(local_roots=(root,), **common)
        elif ref.path is not None:
            path = ref.path.resolve()
            if not path.is_file():
                raise NotFoundError(f"no WSDL file at {ref.path}", wsdl=str(ref.path))
            # Its imports stay inside its folder (or the WSDL folder that holds it).
            resolver = DocumentResolver.beside(path, self.config.wsdl_dir, **common)
        else:
            raise BadInputError("no WSDL given")
        stat = path.stat()
        return ("path", str(path), stat.st_mtime_ns, stat.st_size), resolver, str(path)

    # -- translation ---------------------------------------------------------------------
    def translate(
        self, xml: bytes, wsdl: WsdlRef | None = None, options: TranslateOptions | None = None
    ) -> Translation:
        options = options or _DEFAULT_OPTIONS
        declare = wsdl is not None and self._policy(options) == "declare"
        root, attachments = self._parse(xml, options.content_type, lenient=declare)
        envelope = open_envelope(root)
        compiled = self.load(wsdl) if wsdl is not None else None
        if envelope.fault is not None:
            raise self._fault(envelope, compiled)
        if compiled is None:
            translation = self._schemaless(envelope, options, reason=None)
        else:
            translation = self._typed(compiled, envelope, options)
        if attachments:
            translation = _with(translation, attachments=tuple(attachments))
        if options.target_schema is not None or options.mode == "llm":
            from translators.mapping.runtime import apply_target

            translation = apply_target(
                self,
                translation,
                compiled,
                target_schema=options.target_schema,
                mode=options.mode,
            )
        return translation

    def _policy(self, options: TranslateOptions) -> OnMismatch:
        return options.on_mismatch or self._default_policy

    def _parse(
        self, xml: bytes, content_type: str | None, *, lenient: bool = False
    ) -> tuple[etree._Element, list[dict[str, Any]]]:
        if len(xml) > self.message_limits.max_bytes:
            # parse_xml says the same; checking first keeps a huge multipart body unsplit.
            return parse_xml(xml, self.message_limits, what="message"), []
        if is_multipart(xml, content_type):
            multipart = split_multipart(xml, content_type)
            root = parse_xml(multipart.root, self.message_limits, what="message")
            # Lenient: a reference to a missing part stays as its cid: text (a deviation).
            return root, inline_xop(root, multipart.attachments, keep_missing=lenient)
        return parse_xml(xml, self.message_limits, what="message"), []

    def _fault(self, envelope: Envelope, compiled: CompiledWsdl | None) -> Exception:
        assert envelope.fault is not None
        converter: Any = None
        if compiled is not None:
            typed = compiled.converter

            def detail_converter(element: etree._Element) -> Any:
                ctx = ConversionContext(max_nodes=self.config.max_output_nodes, scope=envelope.body)
                decl = compiled.loaded.schemas.element(element.tag)
                if decl is None:
                    return typed.schemaless.value(element, ctx)
                try:
                    return typed.element(element, decl, ctx)
                except MessageMismatchError:
                    return typed.schemaless.value(element, ctx)

            converter = detail_converter
        return fault_error(
            envelope.fault,
            envelope.soap_version or "1.1",
            detail_converter=converter,
            max_nodes=self.config.max_output_nodes,
        )

    def _schemaless(
        self, envelope: Envelope, options: TranslateOptions, *, reason: str | None
    ) -> Translation:
        ctx = ConversionContext(max_nodes=self.config.max_output_nodes, scope=envelope.body)
        converter = SchemalessConverter(arrays=options.arrays)
        data: dict[str, Any] = {}
        for message in envelope.messages:
            key = local_name(message.tag)
            value = converter.value(message, ctx)
            if key in data:
                existing = data[key]
                data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                data[key] = value
        headers: dict[str, Any] = {}
        for header in envelope.headers:
            headers[local_name(header.tag)] = converter.value(header, ctx)
        # The convention guarantees validity; the gate makes sure a 200 never says otherwise.
        _validate(_SCHEMALESS_GATE, data, "schema-less message")
        fallbacks = (Fallback("schemaless", reason),) if reason else ()
        return Translation(
            data,
            str(SCHEMALESS_SCHEMA["$id"]),
            "schemaless",
            soap_version=envelope.soap_version,
            headers=headers or None,
            warnings=tuple(ctx.warnings),
            fallbacks=fallbacks,
        )

    def _typed(
        self, compiled: CompiledWsdl, envelope: Envelope, options: TranslateOptions
    ) -> Translation:
        on_mismatch = self._policy(options)
        first_error: MessageMismatchError | None = None
        shape_key = _shape_key(envelope, options)
        try:
            candidates = self._candidates(compiled, envelope, options, shape_key)
        except MessageMismatchError as exc:
            candidates, first_error = [], exc
        # A body shape that deviated last time likely deviates again: under "declare", go
        # straight to the lenient conversion (which, on a message that fits, gives the same
        # result as the strict one, with no deviations).
        deviating = shape_key if on_mismatch == "declare" else None
        if candidates and deviating in compiled.deviating_shapes:
            declared = self._declared(compiled, envelope, options, candidates)
            if declared is not None:
                return declared
        for index, message in enumerate(candidates):
            ctx = ConversionContext(
                max_nodes=self.config.max_output_nodes,
                encoded=message.shape.encoded,
                scope=envelope.body,
            )
            try:
                data = convert_body(message.shape, envelope.messages, compiled.converter, ctx)
                headers = convert_headers(message.shape, envelope.headers, compiled.converter, ctx)
                _validate(message.validator, data, "message")
                _validate(message.header_validator, headers, "headers")
            except MessageMismatchError as exc:
                first_error = first_error or exc
                continue
            if index:
                ctx.warn(f"{index} better-named candidate operation(s) did not fit this message")
            operation = message.operation
            return Translation.typed(
                data,
                message.schema_id,
                operation=operation.name if operation else message.shape.operation,
                binding=operation.binding if operation else None,
                direction=message.direction,
                soap_version=envelope.soap_version,
                headers=headers or None,
                warnings=tuple(ctx.warnings),
            )
        assert first_error is not None
        if on_mismatch == "declare":
            declared = self._declared(compiled, envelope, options, candidates)
            if declared is not None:
                if candidates and len(envelope.messages) <= 16:
                    with self._cache_lock:
                        shapes = compiled.deviating_shapes
                        shapes[deviating] = None
                        while len(shapes) > _CANDIDATE_CACHE:
                            del shapes[next(iter(shapes))]
                return declared
        if on_mismatch != "schemaless":
            raise first_error
        logger.info("schema-less fallback: %s", first_error.detail)
        return self._schemaless(envelope, options, reason=first_error.detail)

    def _declared(
        self,
        compiled: CompiledWsdl,
        envelope: Envelope,
        options: TranslateOptions,
        candidates: list[CompiledMessage],
    ) -> Translation | None:
        """The lenient conversion: the candidate with the fewest deviations, or None when
        none converts (the strict error then stands)."""
        if not candidates and compiled.loaded.kind != "xsd":
            candidates = self._renamed_candidates(compiled, envelope, options)
        # Convert every candidate leniently (cheap), then settle the schema (validation, the
        # costly part) in order of fewest deviations; the first that settles wins. The first
        # candidate without deviations comes first in that order whatever the later ones
        # give, so it is settled before they are converted (they are when it fails).
        converted: list[tuple[int, int, _Lenient]] = []
        for order, message in enumerate(candidates[:_MAX_CANDIDATES]):
            try:
                lenient = self._lenient_convert(message, envelope, compiled)
            except MessageMismatchError:
                continue
            if not lenient.deviations and self.settle_first_fit:
                try:
                    return self._settled(lenient, envelope)
                except MessageMismatchError:
                    continue
            converted.append((len(lenient.deviations), order, lenient))
        converted.sort(key=lambda c: c[:2])
        for _, _, lenient in converted:
            try:
                return self._settled(lenient, envelope)
            except MessageMismatchError:
                continue
        return None

    def _renamed_candidates(
        self, compiled: CompiledWsdl, envelope: Envelope, options: TranslateOptions
    ) -> list[CompiledMessage]:
        """Messages whose single part the body may be under another name (the ``wrapper``
        deviation): named after the operation, or, with the operation given, any rpc reply."""
        operations = (
            compiled.find_operations(options.operation)
            if options.operation is not None
            else list(compiled.operations)
        )
        directions: tuple[Direction, ...] = (
            (options.direction,) if options.direction else ("output", "input")
        )
        found: list[CompiledMessage] = []
        for operation in operations:
            for direction in directions:
                if operation.message(direction) is None:
                    continue
                message = compiled.message(operation, direction)
                if not renamed_matches(message.shape, envelope.messages):
                    continue
                if options.operation is None and message.shape.body[0].rpc_wrapper:
                    from translators.convert.message import wrapper_named

                    if not wrapper_named(message.shape, envelope.messages[0].tag):
                        continue  # an arbitrary wrapper only when the operation is given
                found.append(message)
        return found

    def _lenient_convert(
        self, message: CompiledMessage, envelope: Envelope, compiled: CompiledWsdl
    ) -> _Lenient:
        deviations: list[Deviation] = []
        ctx = ConversionContext(
            max_nodes=self.config.max_output_nodes,
            encoded=message.shape.encoded,
            scope=envelope.body,
            deviations=deviations,
        )
        data = convert_body(message.shape, envelope.messages, compiled.converter, ctx)
        headers = convert_headers(message.shape, envelope.headers, compiled.converter, ctx)
        return _Lenient(message, data, headers, deviations, ctx)

    def _settled(self, lenient: _Lenient, envelope: Envelope) -> Translation:
        message, data, headers = lenient.message, lenient.data, lenient.headers
        deviations, ctx = lenient.deviations, lenient.ctx
        schema = self._widened.settle(
            message.schema, data, deviations, "body", "message", base_gate=message.validator
        )
        header_schema = self._widened.settle(
            message.header_schema,
            headers,
            deviations,
            "headers",
            "headers",
            base_gate=message.header_validator,
        )
        if not deviations:  # only warnings (e.g. a wrapper renamed as SOAP allows)
            schema_id, widened = message.schema_id, None
        else:
            schema_id, widened = str(schema["$id"]), schema
        operation = message.operation
        return Translation(
            data,
            schema_id,
            "typed",
            operation=operation.name if operation else message.shape.operation,
            binding=operation.binding if operation else None,
            direction=message.direction,
            soap_version=envelope.soap_version,
            headers=headers or None,
            warnings=tuple(ctx.warnings),
            deviations=tuple(deviations),
            base_schema_id=message.schema_id if deviations else None,
            widened_schema=widened,
            widened_header_schema=header_schema
            if header_schema is not message.header_schema
            else None,
        )

    def _candidates(
        self,
        compiled: CompiledWsdl,
        envelope: Envelope,
        options: TranslateOptions,
        key: tuple[Any, ...] | None = None,
    ) -> list[CompiledMessage]:
        """The operation messages this envelope may carry, best first (given, or inferred
        from the body's element names; ties keep the WSDL's order). They depend only on the
        body's element names, the SOAP version and the options, so they are remembered per
        compiled WSDL (a bounded LRU)."""
        if key is None:
            key = _shape_key(envelope, options)
        cache = compiled.candidate_cache
        found = cache.get(key)
        if found is not None:
            return found
        found = self._find_candidates(compiled, envelope, options)
        if len(envelope.messages) > 16:
            return found  # keys stay small
        with self._cache_lock:
            cache[key] = found
            while len(cache) > _CANDIDATE_CACHE:
                del cache[next(iter(cache))]
        return found

    def _find_candidates(
        self, compiled: CompiledWsdl, envelope: Envelope, options: TranslateOptions
    ) -> list[CompiledMessage]:
        if compiled.loaded.kind == "xsd":
            if len(envelope.messages) != 1:
                raise MessageMismatchError("a schema-only translation expects one body element")
            return [compiled.element_message(envelope.messages[0].tag)]
        if options.operation is not None:
            operations = compiled.find_operations(options.operation)
            if not operations:
                compiled.operation(options.operation)  # raises NotFoundError with the names
        else:
            operations = list(compiled.operations)
        directions: tuple[Direction, ...] = (
            (options.direction,) if options.direction else ("input", "output")
        )
        scored: list[tuple[int, int, int, int, CompiledMessage]] = []
        first_tags = first_child_tags(envelope.messages)
        for order, operation in enumerate(operations):
            for direction in directions:
                if operation.message(direction) is None:
                    continue
                message = compiled.message(operation, direction)
                score = shape_matches(message.shape, envelope.messages)
                if score:
                    # The binding of the envelope's SOAP version first, then unbound/HTTP ones;
                    # among those, one whose type declares the body's first child (an rpc
                    # request and its reply share the wrapper's name, not their parts).
                    version = operation.soap_version
                    version_fit = 2 if version == envelope.soap_version else int(version is None)
                    fits = content_fits(
                        message.shape, envelope.messages, first_tags, compiled.converter
                    )
                    if score == 1 and fits:
                        # An rpc reply's wrapper name is not significant (SOAP 1.1, 7.1): a
                        # reply under another name whose parts fit ranks with exact names.
                        score = 3
                    scored.append((score, version_fit, fits, -order, message))
        if not scored:
            found = ", ".join(m.tag for m in envelope.messages) or "an empty body"
            scope = f"operation {options.operation}" if options.operation else "any operation"
            raise MessageMismatchError(
                f"the message ({found}) does not match {scope} of {compiled.name}",
                path="/Envelope/Body",
            )
        scored.sort(key=lambda s: s[:4], reverse=True)
        return [s[4] for s in scored]

    # -- schemas -------------------------------------------------------------------------
    def schema(self, wsdl: WsdlRef, operation: str, direction: Direction) -> dict[str, Any]:
        compiled = self.load(wsdl)
        op = compiled.operation(operation)
        return compiled.message(op, direction).schema

    @property
    def model_id(self) -> str:
        """The configured LLM, as it keys saved mappings (known without loading it)."""
        spec = self.settings.models.llm
        return f"{spec.backend}:{spec.model}"

    def cached_llm(self) -> tuple[CachedLLM | None, str | None]:
        """The LLM behind the content-hash cache and the timeout, or why there is none."""
        if self._llm is None:
            return None, "no LLM configured for the translator"
        try:
            backend = self._llm()
        except MmragError as exc:
            return None, f"the LLM could not be loaded: {exc.detail}"
        return CachedLLM(
            backend, self.state_dir / "llm-cache", timeout_s=self.config.llm_timeout_s
        ), None


@dataclass
class _Lenient:
    message: CompiledMessage
    data: dict[str, Any]
    headers: dict[str, Any]
    deviations: list[Deviation]
    ctx: ConversionContext


class _WidenedCache:
    """Widened schemas and their validators by widened id (the base id plus a digest of the
    deviations): a service that deviates keeps deviating the same way, so the schema is
    built once and, from its second use, validated by the compiled fast path
    (fastjsonschema, which does not implement ``prefixItems``, gets the draft-7 spelling:
    ``items`` as a list plus ``additionalItems``)."""

    def __init__(self, size: int = 256) -> None:
        # widened id -> (schema, fast gate once earned, uses)
        # Keyed by (widened id, title): WSDLs with the same content share schema ids but
        # each schema's title names its own file.
        self._entries: OrderedDict[
            tuple[str, str], tuple[dict[str, Any], SchemaGate | None, int]
        ] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def settle(
        self,
        schema: dict[str, Any],
        instance: Any,
        deviations: list[Deviation],
        part: Literal["body", "headers"],
        what: str,
        *,
        base_gate: SchemaGate | None = None,
    ) -> dict[str, Any]:
        own = [d for d in deviations if d.part == part]
        if not own:
            gate = base_gate
            widened = schema
        else:
            key = (widened_id(str(schema.get("$id", "")), own), str(schema.get("title", "")))
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    widened, gate, uses = entry
                    if gate is None and uses >= 1:
                        gate = SchemaGate(_draft7_arrays(widened))
                    self._entries[key] = (widened, gate, uses + 1)
            if entry is None:
                widened = widen(schema, own)
                gate = None
        if gate is not None and gate.is_valid(instance):
            return widened
        settled = _settle(schema, widened, instance, deviations, part, what)
        if own or settled is not schema:
            key = (str(settled["$id"]), str(schema.get("title", "")))
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = (settled, None, 0)
                    while len(self._entries) > self.size:
                        self._entries.popitem(last=False)
        return settled


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})


def _shape_key(envelope: Envelope, options: TranslateOptions) -> tuple[Any, ...]:
    """What candidate selection depends on: body element names and their first children's,
    SOAP version, options."""
    return (
        tuple(m.tag for m in envelope.messages),
        first_child_tags(envelope.messages),
        envelope.soap_version,
        options.operation,
        options.direction,
    )


def _draft7_arrays(schema: Any) -> Any:
    """``prefixItems`` + ``items`` (2020-12) as ``items: [...]`` + ``additionalItems`` (the
    draft-7 spelling fastjsonschema implements); the rest unchanged."""
    if isinstance(schema, list):
        return [_draft7_arrays(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: {k: _draft7_arrays(v) for k, v in value.items()}
        if key in _SCHEMA_MAPS and isinstance(value, dict)
        else _draft7_arrays(value)
        for key, value in schema.items()
    }
    if "prefixItems" in out:
        out["additionalItems"] = out.pop("items", True)
        out["items"] = out.pop("prefixItems")
    return out


def _settle(
    schema: dict[str, Any],
    widened: dict[str, Any],
    instance: Any,
    deviations: list[Deviation],
    part: Literal["body", "headers"],
    what: str,
) -> dict[str, Any]:
    """``schema`` widened at the deviations of ``part`` (``widened``: that, already built);
    a facet the converter does not check (pattern, length, enumeration, range) becomes a
    deviation too. Raises when the instance still fails (the lenient conversion then does
    not apply)."""
    from jsonschema import Draft202012Validator

    for _ in range(3):
        errors = list(Draft202012Validator(widened).iter_errors(instance))
        if not errors:
            return widened
        added = False
        for error in errors:
            path = tuple(error.absolute_path)
            value = error.instance
            if isinstance(value, dict | list) or not _is_facet(error):
                continue
            if any(d.path == path and d.part == part for d in deviations):
                continue
            expected = describe_error(error)
            deviations.append(
                Deviation(
                    path, "facet", expected[:200], repr(value)[:80], part, admits=_json_kind(value)
                )
            )
            added = True
        if not added:
            break
        own = [d for d in deviations if d.part == part]
        widened = widen(schema, own)
    error = best_match_error(widened, instance)
    where = "/" + "/".join(str(p) for p in error.absolute_path) if error is not None else "/"
    reason = describe_error(error) if error is not None else "schema validation failed"
    raise MessageMismatchError(
        f"the translated {what} fails its schema at {where}, even widened: {reason}", path=where
    )


def _is_facet(error: Any) -> bool:
    if str(error.validator) in _FACETS:
        return True
    if str(error.validator) in ("anyOf", "oneOf") and error.context:
        return any(str(e.validator) in _FACETS for e in error.context)
    return False


def _json_kind(value: Any) -> dict[str, Any]:
    from translators.convert.deviations import json_type_schema

    return json_type_schema(value)


def best_match_error(schema: dict[str, Any], instance: Any) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    return best_match(Draft202012Validator(schema).iter_errors(instance))


def _validate(gate: SchemaGate, instance: Any, what: str) -> None:
    if gate.is_valid(instance):
        return
    error = gate.error(instance)
    if error is None:  # the two validators disagree: refuse rather than guess
        raise MessageMismatchError(f"the translated {what} failed schema validation")
    path = "/" + "/".join(str(p) for p in error.absolute_path)
    raise MessageMismatchError(
        f"the translated {what} fails its schema at {path}: {describe_error(error)}", path=path
    )


def describe_error(error: Any) -> str:
    """A short reason for a JSON Schema error (never the whole instance)."""
    keyword = str(error.validator)
    if keyword == "oneOf":
        return "oneOf: an xs:choice carries more than one alternative, or a required one is missing"
    if keyword in ("anyOf", "allOf"):
        return f"{keyword}: the value fits none of the allowed shapes"
    message = str(error.message)
    return f"{keyword}: {message[:200]}{'...' if len(message) > 200 else ''}"


def _with(translation: Translation, **changes: Any) -> Translation:
    from dataclasses import replace

    return replace(translation, **changes)
