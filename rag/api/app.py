"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rag import __version__
from rag.api import bridge, docs, health, index, jobs, metrics, page, search, sources, translate
from rag.api.limits import install_middleware
from rag.api.openapi import install_openapi
from rag.api.problems import install_problem_handlers
from rag.api.state import ServiceState
from rag.endpoint import remove_endpoint, write_endpoint
from rag.jobs import start_jobs
from rag.models import ModelRegistry
from rag.runtime import Runtime
from rag.settings import Settings, get_settings
from rag.store import VectorStore

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    models: ModelRegistry | None = None,
    store: VectorStore | None = None,
) -> FastAPI:
    """Build the app. Its parts come from the runtime (:mod:`rag.runtime`), built once, in
    the lifespan, not per request; ``models`` and ``store`` replace the configured ones."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, models=models, store=store)
        opened = runtime.store
        state = ServiceState(runtime, warmup=settings.api.warmup)
        # Without a broker this process owns the embedded store: take its lock now (a locked
        # store fails the start). With one, a worker owns it and this process only submits
        # and watches jobs.
        owns_store = settings.store.backend == "embedded" and not settings.jobs.broker_url
        claim = getattr(opened, "claim", None)
        if owns_store and callable(claim):
            claim()
        app.state.mmrag = state
        app.state.bridge = runtime.bridge(listener=app.state.metrics.bridge_listener())
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
            opened.close()  # handed in or opened here: the service owns it either way

    app = FastAPI(
        title="mmrag",
        version=__version__,
        summary="Multimodal search over text, images and speech; SOAP-to-REST bridge.",
        lifespan=lifespan,
        docs_url=None,  # served by rag.api.docs, with local assets (no CDN)
        redoc_url=None,
    )
    install_openapi(app)
    app.include_router(docs.router)
    app.state.metrics = metrics.ServiceMetrics()
    install_problem_handlers(app)
    install_middleware(app, settings)
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
