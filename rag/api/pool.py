"""A bounded pool for model work (search, upload indexing) with backpressure.

At most ``workers`` calls run at once (each in a worker thread) and at most ``queue`` more
wait for a slot; a call beyond that is refused at once with :class:`SaturatedError` (429 with
``Retry-After``) instead of joining a queue that grows without limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio.to_thread import run_sync

from rag.errors import OverloadedError

T = TypeVar("T")


class SaturatedError(OverloadedError):
    """Every model worker is busy and the wait queue is full: try again shortly."""

    code = "saturated"


class ModelPool:
    def __init__(self, workers: int, queue: int, *, retry_after_s: float = 1.0) -> None:
        self.workers = workers
        self.queue = queue
        self.retry_after_s = retry_after_s
        self._limiter: anyio.CapacityLimiter | None = None
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        if self._admitted >= self.workers + self.queue:
            raise SaturatedError(
                f"all {self.workers} model workers are busy and {self.queue} calls are waiting "
                "(MMRAG_API__MODEL_WORKERS, MMRAG_API__MODEL_QUEUE)",
                retry_after_s=self.retry_after_s,
            )
        if self._limiter is None:  # created on the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.workers)
        self._admitted += 1
        try:
            return await run_sync(func, *args, limiter=self._limiter)
        finally:
            self._admitted -= 1
