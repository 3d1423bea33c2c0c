"""Where each configured model comes from, and its version, resolved without loading it."""

from __future__ import annotations

from pathlib import Path

from rag.models.source import ModelSource, SourceKind, version_for
from rag.settings import ModelKind, Settings


def resolve(kind: ModelKind, settings: Settings) -> ModelSource:
    models = settings.models
    cache_dir = settings.models_cache_dir
    if kind == "text":
        from rag.models.text import resolve_text_source

        return resolve_text_source(models.text)
    if kind == "multilingual":
        from rag.models.multilingual import resolve_multilingual_source

        return resolve_multilingual_source()
    if kind == "whisper":
        from rag.models.whisper import resolve_whisper_source

        return resolve_whisper_source(models.whisper, cache_dir)
    if kind == "ocr":
        from rag.models.ocr import resolve_ocr_source

        return resolve_ocr_source()
    if kind == "clip":
        from rag.models.clip import resolve_clip_source

        return resolve_clip_source(models.clip, cache_dir)
    if kind == "reranker":
        from rag.models.reranker import resolve_reranker_source

        return resolve_reranker_source(models.reranker)
    if models.llm.backend == "openai":
        return ModelSource(SourceKind.REMOTE, f"{models.llm.base_url} model={models.llm.model}")
    from rag.models.llm.local import resolve_local_llm

    return resolve_local_llm(models.llm).source


def describe(kind: ModelKind, settings: Settings) -> str:
    return resolve(kind, settings).describe()


def version(kind: ModelKind, settings: Settings) -> str:
    """The version the loaded model will report (same function the loaders use)."""
    models = settings.models
    source = resolve(kind, settings)
    if kind == "text":
        return version_for(models.text.model, source)
    if kind == "multilingual":
        from rag.models.multilingual import multilingual_version

        return multilingual_version(models.multilingual)
    if kind == "whisper":
        from rag.models.whisper import whisper_label

        return version_for(whisper_label(models.whisper), source)
    if kind == "ocr":
        from rag.models.ocr import OCR_LABEL

        return version_for(OCR_LABEL, source)
    if kind == "clip":
        from rag.models.clip import clip_label

        return version_for(clip_label(models.clip, source), source)
    if kind == "reranker":
        from rag.models.reranker import reranker_label

        return version_for(reranker_label(models.reranker), source)
    if models.llm.backend == "openai":
        return f"openai:{models.llm.model}@{models.llm.base_url}"
    return version_for(Path(models.llm.model).name, source)
