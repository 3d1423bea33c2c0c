"""The FastAPI application factory."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from rag import __version__
from rag.api import bridge, health, index, jobs, metrics, page, search, sources, translate
from rag.api.problems import install_problem_handlers
from rag.api.state import ServiceState
from rag.endpoint import remove_endpoint, write_endpoint
from rag.jobs import start_jobs
from rag.models import ModelRegistry
from rag.settings import Settings, get_settings
from rag.store import VectorStore, open_store

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def create_app(
    settings: Settings | None = None,
    *,
    models: ModelRegistry | None = None,
    store: VectorStore | None = None,
) -> FastAPI:
    """Build the app. Models and stores are built once, in the lifespan, not per request."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServiceState(
            settings=settings,
            models=models or ModelRegistry(settings),
            store=store or open_store(settings),
            warmup=settings.api.warmup,
        )
        # Without a broker this process owns the embedded store: take its lock now. With one,
        # a worker owns it and this process only submits and watches jobs.
        owns_store = settings.store.backend == "embedded" and not settings.jobs.broker_url
        claim = getattr(state.store, "claim", None)
        if owns_store and callable(claim):
            claim()
        app.state.mmrag = state
        app.state.bridge = _bridge(settings, state, app.state.metrics)
        await app.state.bridge.start()
        state.start_warmup()
        # Without a broker this process owns the store, so it also runs the jobs.
        jobs_runtime = start_jobs(
            settings, models=state.models, store=state.store, index_lock=state.index_lock
        )
        state.jobs = jobs_runtime
        listen_url: str | None = getattr(app.state, "listen_url", None)
        if listen_url and owns_store:
            write_endpoint(settings.data_dir, listen_url)  # the CLI sends its work here
        if not settings.api.keys:
            logger.warning("no API keys configured: authentication is off (tenant 'default')")
        logger.info(
            "mmrag %s started (%s store, data dir %s)",
            __version__,
            settings.store.backend,
            settings.data_dir,
        )
        try:
            yield
        finally:
            logger.info("mmrag shutting down")
            remove_endpoint(settings.data_dir)
            await app.state.bridge.aclose()
            jobs_runtime.close()
            state.store.close()

    app = FastAPI(
        title="mmrag",
        version=__version__,
        summary="Multimodal search over text, images and speech; SOAP-to-REST bridge.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics.ServiceMetrics()
    install_problem_handlers(app)
    app.middleware("http")(metrics.metrics_middleware)
    app.middleware("http")(_request_id)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(index.router)
    app.include_router(search.router)
    app.include_router(sources.router)
    app.include_router(page.router)
    app.include_router(translate.router)
    app.include_router(bridge.router)
    app.include_router(jobs.router)
    return app


def _bridge(
    settings: Settings, state: ServiceState, service_metrics: metrics.ServiceMetrics
) -> Any:
    """The SOAP bridge; its per-upstream pools open now and close with the app."""
    from translators.bridge import Bridge

    return Bridge(settings, llm=state.models.llm, listener=service_metrics.bridge_listener())


async def _request_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = (
        incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
    )
    request.state.request_id = request_id
    response = await call_next(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
