"""Prometheus metrics: one registry per app, so apps built in tests never collide."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rag.models import MODEL_KINDS, ModelRegistry, ModelState


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mmrag_http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mmrag_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.translations = Counter(
            "mmrag_translations_total",
            "XML -> JSON translations by mode (typed, schemaless, mapped, llm) and outcome.",
            ["mode", "outcome"],
            registry=self.registry,
        )
        self.translation_fallbacks = Counter(
            "mmrag_translation_fallbacks_total",
            "Translations that fell back, by kind (schemaless, mapping_similarity, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.translation_deviations = Counter(
            "mmrag_translation_deviations_total",
            "Declared deviations from the WSDL in translated messages (translate and bridge), "
            "by kind (nil, facet, lexical, attribute, unknown_element, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.bridge_calls = Counter(
            "mmrag_bridge_calls_total",
            "Bridge calls by service, operation and outcome (ok, replayed, or the error code).",
            ["service", "operation", "outcome"],
            registry=self.registry,
        )
        self.bridge_attempts = Counter(
            "mmrag_bridge_upstream_attempts_total",
            "Upstream attempts by service and outcome (ok, http-<status>, timeout, ...).",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.bridge_upstream_latency = Histogram(
            "mmrag_bridge_upstream_duration_seconds",
            "Duration of one upstream attempt, by service.",
            ["service"],
            registry=self.registry,
        )
        self.bridge_replays = Counter(
            "mmrag_bridge_idempotent_replays_total",
            "Responses replayed for an Idempotency-Key instead of calling the upstream.",
            ["service", "operation"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "mmrag_model_loaded",
            "1 when the model kind is loaded in this process, else 0.",
            ["kind"],
            registry=self.registry,
        )

    def bridge_listener(self) -> Any:
        """Hooks the bridge calls (unknown services and operations come labelled "-")."""
        from translators.bridge import BridgeListener

        def on_call(service: str, operation: str, outcome: str) -> None:
            self.bridge_calls.labels(service, operation, outcome).inc()

        def on_attempt(service: str, outcome: str, seconds: float) -> None:
            self.bridge_attempts.labels(service, outcome).inc()
            self.bridge_upstream_latency.labels(service).observe(seconds)

        def on_replay(service: str, operation: str) -> None:
            self.bridge_replays.labels(service, operation).inc()

        def on_deviation(kind: str) -> None:
            self.translation_deviations.labels(kind).inc()

        return BridgeListener(
            on_call=on_call, on_attempt=on_attempt, on_replay=on_replay, on_deviation=on_deviation
        )

    def observe_models(self, models: ModelRegistry) -> None:
        status = models.status()
        for kind in MODEL_KINDS:
            self.model_loaded.labels(kind).set(1 if status[kind].state is ModelState.LOADED else 0)


def route_template(request: Request) -> str:
    """The matched route's path template, so ids in URLs do not explode label cardinality.

    The router records the matched route in the (shared) scope once it has routed."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    metrics: ServiceMetrics = request.app.state.metrics
    metrics.observe_models(request.app.state.mmrag.models)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
