"""Mapping at translation time: typed JSON -> the caller's target schema.

The saved mapping for (source schema, target schema, model, prompt version) is applied; when
there is none yet, one is proposed (LLM, checked and repaired, see
:mod:`translators.mapping.propose`) with the message itself as the sample, saved, and applied.
The output is validated against the target schema before it is returned; a mapping that
cannot produce valid output for this message is an error, never a 200.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from rag.errors import BadInputError, MappingError
from translators.convert.schemaless import SCHEMALESS_SCHEMA
from translators.mapping.apply import MappingApplyError, apply_rules
from translators.mapping.dsl import MappingFile
from translators.mapping.message_llm import llm_translate
from translators.mapping.propose import PROMPT_VERSION, propose_mapping
from translators.mapping.store import MappingStore, mapping_key, rules_digest, schema_digest
from translators.result import Fallback, Translation
from translators.schema.gate import SchemaGate

if TYPE_CHECKING:
    from translators.compiled import CompiledWsdl
    from translators.config import TranslatorConfig
    from translators.mapping.llm import CachedLLM

logger = logging.getLogger(__name__)

__all__ = ["apply_target", "mapping_fallbacks", "source_schema_of"]

_PROPOSING = threading.Lock()  # one proposal at a time per process (the LLM is serial anyway)


def source_schema_of(translation: Translation, compiled: CompiledWsdl | None) -> dict[str, Any]:
    if translation.mode == "typed" and compiled is not None:
        for message in compiled.compiled_messages():
            if message.schema_id == translation.schema_id:
                return message.schema
    return SCHEMALESS_SCHEMA


def checked_target_schema(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise BadInputError("the target schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise BadInputError(f"the target schema is not valid JSON Schema: {exc.message}") from None
    return schema


def mapping_fallbacks(mapping: MappingFile) -> list[Fallback]:
    """The fallbacks a mapping carries for every response it produces."""
    report = mapping.report
    origins = {r.origin for r in mapping.rules}
    if "llm" not in origins and "similarity" in origins:
        reason = (report.get("llm") or {}).get("error") or "no usable rule in the LLM's proposal"
        return [Fallback("mapping_similarity", f"name-similarity mapping: {reason}")]
    if (
        report.get("dropped_from_llm")
        or report.get("dropped_on_samples")
        or "similarity" in origins
    ):
        return [
            Fallback("mapping_repaired", "the LLM's proposal was repaired (see the mapping report)")
        ]
    return []


class MappingHost(Protocol):
    """What applying a mapping needs of the translator (``TranslatorService`` is one)."""

    @property
    def config(self) -> TranslatorConfig: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def model_id(self) -> str: ...
    def cached_llm(self) -> tuple[CachedLLM | None, str | None]: ...


def apply_target(
    service: MappingHost,
    translation: Translation,
    compiled: CompiledWsdl | None,
    *,
    target_schema: Mapping[str, Any] | None,
    mode: Literal["deterministic", "llm"],
) -> Translation:
    if target_schema is None:
        raise BadInputError("the LLM mode needs a target schema")
    target_schema = checked_target_schema(dict(target_schema))
    source_schema = source_schema_of(translation, compiled)
    config = service.config
    store = MappingStore(service.state_dir / "mappings")
    model_id = service.model_id
    key = mapping_key(source_schema, target_schema, model_id, PROMPT_VERSION)
    mapping = store.latest(key)
    if mapping is None:
        with _PROPOSING:
            mapping = store.latest(key)
            if mapping is None:
                llm, error = service.cached_llm()
                proposal = propose_mapping(
                    source_schema=source_schema,
                    source_schema_id=translation.schema_id,
                    target_schema=target_schema,
                    samples=[translation.data],
                    llm=llm,
                    model_id=model_id,
                    max_tokens=config.llm_max_tokens,
                    llm_error=error,
                )
                mapping, path = store.save(proposal.mapping)
                logger.info("saved mapping %s v%d at %s", mapping.key, mapping.version, path)
    try:
        data = apply_rules(mapping.rules, translation.data)
    except MappingApplyError as exc:
        raise MappingError(f"mapping {mapping.key} v{mapping.version} failed: {exc}") from None
    gate = SchemaGate(target_schema)
    if not gate.is_valid(data):
        problem = gate.error(data)
        where = "/" + "/".join(str(p) for p in problem.absolute_path) if problem else "/"
        reason = str(problem.message)[:160] if problem else "rejected by the validation gate"
        raise MappingError(
            f"mapping {mapping.key} v{mapping.version} cannot produce valid output for this "
            f"message (at {where}: {reason}); review the mapping file",
            mapping=mapping.key,
            version=mapping.version,
        )
    fallbacks = [*translation.fallbacks, *mapping_fallbacks(mapping)]
    produced = "mapped"
    llm_attempts = 0
    if mode == "llm":
        llm, unavailable = service.cached_llm()
        data, fallback, llm_attempts = llm_translate(
            llm,
            translation.data,
            target_schema,
            data,
            max_tokens=config.llm_max_tokens,
            unavailable=unavailable,
        )
        if fallback is None:
            produced = "llm"
        else:
            fallbacks.append(fallback)
    target_id = str(
        target_schema.get("$id") or f"urn:mmrag:target:{schema_digest(target_schema)[:16]}"
    )
    info: dict[str, Any] = {
        "key": mapping.key,
        "version": mapping.version,
        "rules_sha256": rules_digest(mapping.rules),
        "model": mapping.model,
        "rules": len(mapping.rules),
        "rules_from_llm": sum(1 for r in mapping.rules if r.origin == "llm"),
        "rules_by_similarity": sum(1 for r in mapping.rules if r.origin == "similarity"),
    }
    if mode == "llm":
        info["llm_attempts"] = llm_attempts
    return replace(
        translation,
        data=data,
        schema_id=target_id,
        mode=produced,  # type: ignore[arg-type]
        source_schema_id=translation.schema_id,
        mapping=info,
        fallbacks=tuple(fallbacks),
    )
