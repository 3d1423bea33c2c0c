"""The composition root: mmrag's parts are built and wired here, and nowhere else.

Every surface asks a :class:`Runtime` for what it needs: the API's lifespan, every CLI
command, the jobs worker, eval and the benches. Parts are built on first use, so a command
that only translates never opens the store or loads a search model::

    settings ──┬── models (ModelRegistry: one port per kind) ──┐
               ├── store (embedded or server)                ├── searcher()   indexer()
               └── calibration (fitted, else packaged)       ┘   translator() bridge()

A runtime closes what it opened (the store) and nothing that was handed to it.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rag.models import ModelRegistry
from rag.settings import Settings, get_settings

if TYPE_CHECKING:
    import httpx

    from indexers.pipeline import Indexer
    from indexers.report import ProgressListener
    from rag.search.pipeline import Searcher
    from rag.store import VectorStore
    from rerankers.calibration import Calibration
    from rerankers.cross_modal import CrossModalReranker
    from rerankers.fusion import FusionParams
    from translators.bridge import Bridge, BridgeListener
    from translators.bridge.idempotency import IdempotencyStore
    from translators.service import TranslatorService

__all__ = ["Runtime", "setup"]


def setup(*, console: Any = None) -> Settings:
    """An entry point's set-up: the settings from the environment, and logging configured
    (through ``console`` when one draws live progress)."""
    from rag.logging_setup import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, console=console)
    return settings


class Runtime:
    """Settings, models, store and calibration, and the parts built from them."""

    def __init__(
        self,
        settings: Settings,
        *,
        models: ModelRegistry | None = None,
        store: VectorStore | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """Anything handed in (a shared registry, a test's fakes, an open store) is used as
        it is; the rest is built from ``settings`` when first asked for."""
        self.settings = settings
        self._models = models
        self._store = store
        self._owns_store = False
        self._calibration = calibration
        self._searcher: Searcher | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, *, console: Any = None) -> Runtime:
        """The runtime of an entry point: :func:`setup`, then a runtime on its settings."""
        return cls(setup(console=console))

    # -- the shared parts --------------------------------------------------------------
    @property
    def models(self) -> ModelRegistry:
        with self._lock:
            if self._models is None:
                self._models = ModelRegistry(self.settings)
            return self._models

    @property
    def store(self) -> VectorStore:
        """The configured store, opened on first use (the embedded one locks its folder)."""
        with self._lock:
            if self._store is None:
                from rag.store import open_store

                self._store = open_store(self.settings)
                self._owns_store = True
            return self._store

    @property
    def calibration(self) -> Calibration:
        """The fitted calibration (``mmrag calibrate``), else the packaged default."""
        with self._lock:
            if self._calibration is None:
                from rerankers.calibration import load_calibration

                self._calibration = load_calibration(self.settings.calibration_dir)
            return self._calibration

    # -- the parts built from them -----------------------------------------------------
    def searcher(
        self, calibration: Calibration | None = None, *, fusion: FusionParams | None = None
    ) -> Searcher:
        """The search pipeline; built once with the runtime's calibration, or anew with
        the calibration or fusion parameters given (eval and benches compare them on one
        index)."""
        if calibration is None and fusion is None and self._searcher is not None:
            return self._searcher
        from rag.search.pipeline import Searcher

        options: dict[str, Any] = {} if fusion is None else {"fusion_params": fusion}
        built = Searcher(
            self.settings, self.models, self.store, calibration or self.calibration, **options
        )
        if calibration is not None or fusion is not None:
            return built
        with self._lock:
            self._searcher = self._searcher or built
            return self._searcher

    def reranker(self) -> CrossModalReranker:
        """The cross-modal reranking stage alone (the searcher builds its own)."""
        from rerankers.cross_modal import CrossModalReranker

        return CrossModalReranker(self.models)

    def indexer(self, *, listener: ProgressListener | None = None) -> Indexer:
        """An indexer (not re-entrant: one per indexing call)."""
        from indexers.pipeline import Indexer

        return Indexer(self.settings, self.models, self.store, listener=listener)

    def translator(self) -> TranslatorService:
        """The SOAP/XML translator; the LLM loads only when a mapping needs it."""
        from translators.service import TranslatorService

        return TranslatorService(self.settings, llm=self.models.llm)

    def bridge(
        self,
        *,
        listener: BridgeListener | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        idempotency: IdempotencyStore | None = None,
    ) -> Bridge:
        """The SOAP-to-REST bridge (its upstream pools open on ``start()``)."""
        from translators.bridge import Bridge

        return Bridge(
            self.settings,
            llm=self.models.llm,
            listener=listener,
            transport=transport,
            store=idempotency,
        )

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the store if this runtime opened it."""
        with self._lock:
            store, owned = self._store, self._owns_store
            if owned:
                self._store, self._owns_store, self._searcher = None, False, None
        if owned and store is not None:
            store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
