"""What the translator and the bridge read from their host's configuration.

Structural Protocols, so ``translators`` needs nothing of the service it runs in: mmrag's
``Settings`` satisfies them as they stand, and a bridge team without search can hand in any
object with the same attributes (a dataclass will do).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

__all__ = [
    "BridgeConfig",
    "BridgeHost",
    "LlmIdentity",
    "TenantKeys",
    "TranslatorConfig",
    "TranslatorHost",
]


class TranslatorConfig(Protocol):
    """Parser limits, WSDL loading, mappings and LLM use."""

    @property
    def max_message_bytes(self) -> int: ...
    @property
    def max_document_bytes(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def max_attributes(self) -> int: ...
    @property
    def max_output_nodes(self) -> int: ...
    @property
    def max_documents(self) -> int: ...
    @property
    def remote_allowlist(self) -> tuple[str, ...]: ...
    @property
    def remote_timeout_s(self) -> float: ...
    @property
    def wsdl_dir(self) -> Path | None: ...
    @property
    def cache_size(self) -> int: ...
    @property
    def on_mismatch(self) -> Literal["declare", "error", "schemaless"]: ...
    @property
    def llm_max_tokens(self) -> int: ...
    @property
    def llm_timeout_s(self) -> float: ...
    @property
    def max_samples(self) -> int: ...


class BridgeConfig(Protocol):
    """Registry file, idempotency store and per-upstream defaults."""

    @property
    def config_file(self) -> Path | None: ...
    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis_prefix(self) -> str: ...
    @property
    def idempotency_ttl_s(self) -> int: ...
    @property
    def max_request_bytes(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def queue_timeout_s(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff_s(self) -> float: ...
    @property
    def max_backoff_s(self) -> float: ...


class LlmIdentity(Protocol):
    """Which LLM is configured: it keys saved mappings, known without loading the model."""

    @property
    def backend(self) -> str: ...
    @property
    def model(self) -> str: ...


class _Models(Protocol):
    @property
    def llm(self) -> LlmIdentity: ...


class TranslatorHost(Protocol):
    """The configuration a :class:`~translators.service.TranslatorService` is built from."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def translator(self) -> TranslatorConfig: ...
    @property
    def models(self) -> _Models: ...


class TenantKeys(Protocol):
    """The host's tenant keys (the bridge only asks whether there are any)."""

    @property
    def keys(self) -> Mapping[str, object]: ...


class BridgeHost(TranslatorHost, Protocol):
    """The configuration a :class:`~translators.bridge.bridge.Bridge` is built from."""

    @property
    def bridge(self) -> BridgeConfig: ...
    @property
    def api(self) -> TenantKeys: ...
