"""What the service builds once at start-up and shares between requests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from rag.api.pool import ModelPool
from rag.errors import MmragError
from rag.models import ModelRegistry, ModelState
from rag.runtime import Runtime
from rag.settings import ModelKind, Settings
from rag.store import VectorStore

if TYPE_CHECKING:
    from rag.jobs import JobRuntime
    from rag.search.pipeline import Searcher

logger = logging.getLogger(__name__)


@dataclass
class ServiceState:
    """The service's runtime (its parts, built once) and what requests share besides."""

    runtime: Runtime
    warmup: tuple[ModelKind, ...] = ()
    # The indexer batches across files and is not re-entrant: one indexing call at a time.
    index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Batch jobs: set in the lifespan (with the local executor when no broker is configured).
    jobs: JobRuntime | None = field(default=None, repr=False)
    # Model work (search, upload indexing) runs here: bounded, 429 when saturated.
    model_pool: ModelPool = field(init=False, repr=False)
    _warmup_thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def models(self) -> ModelRegistry:
        return self.runtime.models

    @property
    def store(self) -> VectorStore:
        return self.runtime.store

    def __post_init__(self) -> None:
        api = self.settings.api
        self.model_pool = ModelPool(api.model_workers, api.model_queue)

    def searcher(self) -> Searcher:
        """The search pipeline, built once (it reads the calibration artifact)."""
        return self.runtime.searcher()

    def start_warmup(self) -> None:
        """Load the warm-up models in the background; /readyz turns ready when they are in."""
        if not self.warmup:
            return
        self._warmup_thread = threading.Thread(target=self._warm, name="mmrag-warmup", daemon=True)
        self._warmup_thread.start()

    def wait_warm(self, timeout: float | None = None) -> None:
        if self._warmup_thread is not None:
            self._warmup_thread.join(timeout)

    def _warm(self) -> None:
        for kind in self.warmup:
            try:
                self.models.load(kind)
            except MmragError as exc:
                logger.error("warm-up of the %s model failed: %s", kind, exc.detail)

    def readiness(self) -> tuple[bool, list[str]]:
        """Ready when every warm-up model is loaded; otherwise the reasons why not."""
        status = self.models.status()
        reasons = [
            f"{kind} model {status[kind].state.value}"
            + (f": {status[kind].error}" if status[kind].error else "")
            for kind in self.warmup
            if status[kind].state is not ModelState.LOADED
        ]
        return not reasons, reasons


async def get_state(request: Request) -> ServiceState:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, one hop per request
    # for an attribute lookup (measured on the bridge's load benchmark).
    state: ServiceState = request.app.state.mmrag
    return state
