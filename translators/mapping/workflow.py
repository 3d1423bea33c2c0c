"""The review workflow behind ``mmrag mapping propose|test|show``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from rag.errors import BadInputError, MappingError, NotFoundError
from translators.mapping.check import check_samples
from translators.mapping.propose import propose_mapping
from translators.mapping.runtime import checked_target_schema, source_schema_of
from translators.mapping.store import MappingStore, rule_json, rules_digest, schema_digest

if TYPE_CHECKING:
    from translators.result import Translation
    from translators.service import TranslateOptions, TranslatorService, WsdlRef

__all__ = ["check_mapping_file", "propose_from_samples", "show_mapping"]


def _translate_samples(
    service: TranslatorService,
    samples: Sequence[bytes],
    wsdl: WsdlRef | None,
    options: TranslateOptions,
) -> tuple[list[Translation], dict[str, Any]]:
    if not samples:
        raise BadInputError("at least one sample message is needed")
    translations = [service.translate(xml, wsdl, options) for xml in samples]
    schema_ids = {t.schema_id for t in translations}
    if len(schema_ids) > 1:
        raise BadInputError(
            f"the samples belong to different messages: {', '.join(sorted(schema_ids))}"
        )
    compiled = service.load(wsdl) if wsdl is not None else None
    return translations, source_schema_of(translations[0], compiled)


def propose_from_samples(
    service: TranslatorService,
    samples: Sequence[bytes],
    wsdl: WsdlRef | None,
    options: TranslateOptions,
    target_schema: Any,
    *,
    use_llm: bool = True,
    max_samples: int = 5,
) -> dict[str, Any]:
    target = checked_target_schema(target_schema)
    translations, source_schema = _translate_samples(service, samples[:max_samples], wsdl, options)
    llm, error = service.cached_llm() if use_llm else (None, "the LLM was not asked (--no-llm)")
    proposal = propose_mapping(
        source_schema=source_schema,
        source_schema_id=translations[0].schema_id,
        target_schema=target,
        samples=[t.data for t in translations],
        llm=llm,
        model_id=service.model_id,
        max_tokens=service.config.llm_max_tokens,
        llm_error=error,
    )
    store = MappingStore(service.state_dir / "mappings")
    saved, path = store.save(proposal.mapping)
    report = saved.report
    return {
        "key": saved.key,
        "version": saved.version,
        "file": str(path),
        "valid_on_samples": proposal.valid_on_samples,
        "fallbacks": [f.as_dict() for f in proposal.fallbacks],
        "llm": {k: v for k, v in (report.get("llm") or {}).items() if k != "raw_reply"},
        "kept_from_llm": report.get("kept_from_llm", []),
        "dropped_from_llm": report.get("dropped_from_llm", []),
        "added_by_similarity": report.get("added_by_similarity", []),
        "dropped_on_samples": report.get("dropped_on_samples", []),
        "sample_errors": report.get("sample_errors", []),
        "rules": [rule_json(r) for r in saved.rules],
    }


def check_mapping_file(
    service: TranslatorService,
    path: Path,
    samples: Sequence[bytes],
    wsdl: WsdlRef | None,
    options: TranslateOptions,
    *,
    save: bool = False,
) -> dict[str, Any]:
    mapping = MappingStore.load(path)
    translations, source_schema = _translate_samples(service, samples, wsdl, options)
    notes = []
    if schema_digest(source_schema) != mapping.source_schema_sha256:
        notes.append("the samples' source schema differs from the one the mapping was made for")
    target = checked_target_schema(mapping.target_schema)
    result = check_samples(
        mapping.rules, [t.data for t in translations], Draft202012Validator(target)
    )
    outcome: dict[str, Any] = {
        "key": mapping.key,
        "version": mapping.version,
        "valid": result.ok,
        "errors": list(result.errors),
        "notes": notes,
        "outputs": list(result.outputs),
    }
    if save and result.ok:
        saved, saved_path = MappingStore(service.state_dir / "mappings").save(mapping)
        outcome.update({"saved_version": saved.version, "file": str(saved_path)})
    return outcome


def show_mapping(
    service: TranslatorService, key: str, version: int | None = None
) -> dict[str, Any]:
    candidate = Path(key)
    store = MappingStore(service.state_dir / "mappings")
    if candidate.is_file():
        mapping = MappingStore.load(candidate)
    else:
        versions = store.versions(key)
        if not versions:
            raise NotFoundError(f"no saved mapping {key!r}", mapping=key)
        chosen = version or versions[-1]
        if chosen not in versions:
            raise MappingError(f"mapping {key} has versions {versions}, not {chosen}")
        mapping = MappingStore.load(store.path(key, chosen))
    return {
        "key": mapping.key,
        "version": mapping.version,
        "versions": store.versions(mapping.key),
        "rules_sha256": rules_digest(mapping.rules),
        "model": mapping.model,
        "prompt_version": mapping.prompt_version,
        "source_schema_id": mapping.source_schema_id,
        "target_schema_id": mapping.target_schema.get("$id"),
        "rules": [rule_json(r) for r in mapping.rules],
        "report": {k: v for k, v in mapping.report.items() if k != "llm"},
        "llm": mapping.report.get("llm"),
    }
