"""The bridge: JSON in, SOAP to the upstream, the translated reply out.

:meth:`Bridge.call` is the whole path of one REST call: find the service, validate the JSON
against the operation's input schema (422 naming the fields), claim the ``Idempotency-Key``
(replay, 409 or 422 when it is taken), build the envelope from the compiled schema (the
bridge's own serializer), send it through the service's
:class:`~translators.bridge.upstream.Upstream` (pool, limit, timeouts, retries for
idempotent operations only), and translate the reply (typed JSON validated against the output
schema, or mapped to the service's target schema for that operation).

Error mapping (status codes are decided in :mod:`rag.api.problems`): a SOAP fault whose code
blames the sender is a :class:`~rag.errors.SoapClientFaultError` (400), any other fault a
:class:`~rag.errors.SoapFaultError` (502) with the fault's fields; a timeout is
:class:`~rag.errors.UpstreamTimeoutError` (504); a refused or dropped connection
:class:`~rag.errors.UpstreamUnreachableError` (502); a reply that is not well-formed SOAP of
the operation, or any other HTTP error, :class:`~rag.errors.UpstreamInvalidError` (502).

What is stored for an ``Idempotency-Key``: a 200 and a SOAP fault (the upstream answered),
and the *unknown outcome* of a call of an operation not declared idempotent that timed out
waiting for the reply: the upstream had the request and may have acted, so a retry with the
same key gets :class:`~rag.errors.IdempotencyOutcomeUnknownError` (409, naming the first
attempt) instead of a second send; use a new key (after checking the upstream) to send again.
Connect timeouts, unreachable upstreams, invalid replies and overload release the key, as do
timeouts of idempotent operations: whether to send again is the caller's decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import (
    BadInputError,
    ConflictError,
    IdempotencyKeyReusedError,
    IdempotencyOutcomeUnknownError,
    MmragError,
    NotFoundError,
    PayloadTooLargeError,
    SoapClientFaultError,
    SoapFaultError,
    UpstreamInvalidError,
    UpstreamTimeoutError,
)
from translators.bridge.idempotency import (
    Claim,
    IdempotencyStore,
    RedisIdempotencyStore,
    SqliteIdempotencyStore,
    StoredResponse,
    scoped_key,
)
from translators.bridge.registry import ServiceRegistry
from translators.bridge.soap import BoundOperation, LoadedService, bind_service
from translators.bridge.spec import DEFAULT_TENANT, ServiceSpec
from translators.bridge.upstream import AttemptListener, Upstream, UpstreamLimits, UpstreamReply
from translators.compiled import CompiledWsdl
from translators.convert.deviations import header_value
from translators.convert.jsonout import dumps
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.wsdl.loader import load_wsdl
from translators.wsdl.resolver import DocumentResolver, httpx_fetcher

if TYPE_CHECKING:
    import httpx

    from translators.config import BridgeHost
    from translators.llm import LLMBackend

logger = logging.getLogger(__name__)

__all__ = ["Bridge", "BridgeListener", "BridgeResponse"]

INLINE_BYTES = 64 * 1024  # bigger messages are built and translated in a worker thread
MAX_KEY_CHARS = 255


@dataclass(frozen=True)
class BridgeResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    attempts: int = 0


@dataclass
class BridgeListener:
    """Hooks for metrics; every callable is optional."""

    on_call: Callable[[str, str, str], None] | None = None  # service, operation, outcome
    on_attempt: AttemptListener | None = None  # service, outcome, seconds
    on_replay: Callable[[str, str], None] | None = None  # service, operation
    on_deviation: Callable[[str], None] | None = None  # deviation kind, once per deviation


class _PinnedTranslator(TranslatorService):
    """The translator, with the bridge's compiled WSDLs pinned under ``bridge:<name>``."""

    def __init__(self, settings: BridgeHost, llm: Callable[[], LLMBackend] | None) -> None:
        super().__init__(settings, llm=llm)
        self.pinned: dict[str, CompiledWsdl] = {}

    def load(self, ref: WsdlRef) -> CompiledWsdl:
        if ref.name is not None and ref.name in self.pinned:
            return self.pinned[ref.name]
        return super().load(ref)


class Bridge:
    def __init__(
        self,
        settings: BridgeHost,
        *,
        llm: Callable[[], LLMBackend] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        store: IdempotencyStore | None = None,
        listener: BridgeListener | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.bridge
        self.registry = ServiceRegistry(
            settings.data_dir / "bridge" / "services.json", self.config.config_file
        )
        self.translator = _PinnedTranslator(settings, llm)
        self.listener = listener or BridgeListener()
        self._transport = transport
        self._store = store
        self._loaded: dict[str, tuple[str, LoadedService]] = {}
        self._upstreams: dict[str, tuple[UpstreamLimits, Upstream]] = {}
        self._load_locks: dict[str, asyncio.Lock] = {}
        self._retired: list[Upstream] = []  # pools replaced after a change; closed at the end

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def store(self) -> IdempotencyStore:
        if self._store is None:
            if self.config.redis_url:
                self._store = RedisIdempotencyStore(self.config.redis_url, self.config.redis_prefix)
            else:
                self._store = SqliteIdempotencyStore(
                    self.settings.data_dir / "bridge" / "idempotency.sqlite3"
                )
        return self._store

    async def start(self) -> None:
        """Open a pool for every registered service (WSDLs still load on first use)."""
        for spec in self.registry.all().values():
            self._upstream(spec)
            if spec.tenants is None and self.settings.api.keys:
                logger.warning(
                    "bridge service %s names no tenants: only the %r tenant may call it "
                    "(set its tenants with the admin API or mmrag bridge add --tenant)",
                    spec.name,
                    DEFAULT_TENANT,
                )

    async def aclose(self) -> None:
        upstreams = [u for _, u in self._upstreams.values()] + self._retired
        self._upstreams.clear()
        self._retired = []
        for upstream in upstreams:
            await upstream.aclose()
        if self._store is not None:
            await self._store.aclose()

    # -- services ------------------------------------------------------------------------
    def load_sync(self, spec: ServiceSpec) -> LoadedService:
        """Load and bind a service's WSDL (blocking: file or allow-listed URL reads)."""
        config = self.settings.translator
        options: dict[str, Any] = {
            "allowlist": config.remote_allowlist,
            "http": httpx_fetcher,
            "cache_dir": self.settings.data_dir / "translator" / "remote",
            "max_bytes": config.max_document_bytes,
            "timeout_s": config.remote_timeout_s,
        }
        location = spec.wsdl
        if location.startswith(("http://", "https://")):
            resolver = DocumentResolver(local_roots=(), **options)  # a URL reads no local file
        else:
            path = Path(location).expanduser().resolve()
            if not path.is_file():
                raise NotFoundError(f"{spec.name}: no WSDL file at {location}", wsdl=location)
            location = str(path)
            # Imports stay inside the WSDL's folder (or the WSDL folder that holds it).
            resolver = DocumentResolver.beside(path, config.wsdl_dir, **options)
        loaded = load_wsdl(
            location,
            resolver,
            self.translator.document_limits,
            max_documents=config.max_documents,
        )
        compiled = CompiledWsdl(loaded, name=f"bridge:{spec.name}")
        return bind_service(spec, compiled, wsdl_path=location)

    def authorize(self, name: str, tenant: str) -> ServiceSpec:
        """The service ``tenant`` may use; one it may not is "not found", in the same words
        as a service that does not exist (the tenant learns nothing of it)."""
        spec = self.registry.all().get(name)
        if spec is None or not spec.allows(tenant):
            raise NotFoundError(f"no bridge service named {name!r}", service=name)
        return spec

    def visible(self, tenant: str) -> dict[str, ServiceSpec]:
        """The services ``tenant`` may use, by name."""
        return {n: s for n, s in self.registry.all().items() if s.allows(tenant)}

    async def service(self, name: str) -> LoadedService:
        spec = self.registry.get(name)
        version = _spec_version(spec)
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        lock = self._load_locks.setdefault(name, asyncio.Lock())
        async with lock:
            cached = self._loaded.get(name)
            if cached is not None and cached[0] == version:
                return cached[1]
            loaded = await asyncio.to_thread(self.load_sync, spec)
            self.translator.pinned[loaded.compiled.name] = loaded.compiled
            self._loaded[name] = (version, loaded)
            return loaded

    def _limits(self, spec: ServiceSpec) -> UpstreamLimits:
        config = self.config
        return UpstreamLimits(
            timeout_s=spec.timeout_s or config.timeout_s,
            connect_timeout_s=spec.connect_timeout_s or config.connect_timeout_s,
            max_concurrency=spec.max_concurrency or config.max_concurrency,
            queue_timeout_s=config.queue_timeout_s,
            retries=config.retries if spec.retries is None else spec.retries,
            backoff_s=config.backoff_s,
            max_backoff_s=config.max_backoff_s,
            max_reply_bytes=self.settings.translator.max_message_bytes,
        )

    def _upstream(self, spec: ServiceSpec) -> Upstream:
        limits = self._limits(spec)
        current = self._upstreams.get(spec.name)
        if current is not None and current[0] == limits:
            return current[1]
        upstream = Upstream(
            spec.name, limits, transport=self._transport, on_attempt=self.listener.on_attempt
        )
        self._upstreams[spec.name] = (limits, upstream)
        if current is not None:  # limits changed: calls in flight finish on the old pool
            self._retired.append(current[1])
        return upstream

    # -- calls ---------------------------------------------------------------------------
    async def call(
        self,
        name: str,
        operation: str,
        body: bytes,
        *,
        tenant: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> BridgeResponse:
        outcome = "error"
        # Metrics labels name a service and operation only once they are known to exist,
        # so no caller can mint label values.
        labels = ["-", "-"]
        try:
            response = await self._call(
                name, operation, body, tenant, idempotency_key, labels, request_id
            )
            outcome = "replayed" if response.replayed else "ok"
            return response
        except MmragError as exc:
            outcome = exc.code
            raise
        finally:
            if self.listener.on_call is not None:
                self.listener.on_call(labels[0], labels[1], outcome)

    async def _call(
        self,
        name: str,
        operation: str,
        body: bytes,
        tenant: str,
        key: str | None,
        labels: list[str],
        request_id: str | None = None,
    ) -> BridgeResponse:
        self.authorize(name, tenant)  # before anything else: upstream credentials included
        loaded = await self.service(name)
        bound = loaded.operation(operation)
        labels[:] = [name, operation]
        if len(body) > self.config.max_request_bytes:
            raise PayloadTooLargeError(
                f"the request is over the limit of {self.config.max_request_bytes} bytes",
                limit=self.config.max_request_bytes,
            )
        data = _parse_json(body)
        loaded.validate(bound, data)
        if key is None:
            return await self._run(loaded, bound, data)
        if not 0 < len(key) <= MAX_KEY_CHARS or not key.isprintable():
            raise BadInputError(f"Idempotency-Key must be 1..{MAX_KEY_CHARS} printable characters")
        store = self.store
        scoped = scoped_key(tenant, name, operation, key)
        # Key order and whitespace do not make another request; values (1.5 vs 1.50) do.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        limits = self._limits(loaded.spec)
        lock_ttl = (limits.timeout_s + limits.max_backoff_s) * (1 + limits.retries) + 30
        claim = await store.begin(scoped, fingerprint, lock_ttl_s=lock_ttl)
        if claim.state == "replay":
            assert claim.response is not None
            if self.listener.on_replay is not None:
                self.listener.on_replay(name, operation)
            return _replay(claim.response, name, operation)
        if claim.state == "mismatch":
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request body",
                service=name,
                operation=operation,
            )
        if claim.state == "in_flight":
            raise ConflictError(
                "a request with this Idempotency-Key is still in progress; retry later",
                service=name,
                operation=operation,
            )
        return await self._run_claimed(loaded, bound, data, scoped, claim, fingerprint, request_id)

    async def _run_claimed(
        self,
        loaded: LoadedService,
        bound: BoundOperation,
        data: Any,
        scoped: str,
        claim: Claim,
        fingerprint: str,
        request_id: str | None = None,
    ) -> BridgeResponse:
        ttl = float(self.config.idempotency_ttl_s)
        try:
            response = await self._run(loaded, bound, data)
        except SoapFaultError as exc:
            stored = StoredResponse(0, b"", {"error": _error_record(exc)})
            await self.store.complete(scoped, claim, fingerprint, stored, ttl_s=ttl)
            raise
        except UpstreamTimeoutError as exc:
            if bound.idempotent or exc.extra.get("phase") == "connect":
                await asyncio.shield(self.store.release(scoped, claim))
                raise
            # The upstream had the request: it may have acted. Never send it again.
            first = _first_attempt(exc, request_id)
            stored = StoredResponse(0, b"", {"outcome_unknown": json.dumps(first)})
            await asyncio.shield(self.store.complete(scoped, claim, fingerprint, stored, ttl_s=ttl))
            exc.extra["idempotency"] = "outcome-unknown: this Idempotency-Key will not send again"
            raise
        except BaseException:
            await asyncio.shield(self.store.release(scoped, claim))
            raise
        stored = StoredResponse(response.status, response.body, response.headers)
        await self.store.complete(scoped, claim, fingerprint, stored, ttl_s=ttl)
        return response

    async def _run(self, loaded: LoadedService, bound: BoundOperation, data: Any) -> BridgeResponse:
        big = _size(data) > INLINE_BYTES
        request = await asyncio.to_thread(loaded.build, bound, data) if big else (
            loaded.build(bound, data)
        )  # fmt: skip
        upstream = self._upstream(loaded.spec)
        reply = await upstream.post(bound.address, request, idempotent=bound.idempotent)
        if len(reply.body) > INLINE_BYTES:
            return await asyncio.to_thread(self._translate, loaded, bound, reply)
        return self._translate(loaded, bound, reply)

    def _translate(
        self, loaded: LoadedService, bound: BoundOperation, reply: UpstreamReply
    ) -> BridgeResponse:
        name = loaded.spec.name
        media = reply.content_type.split(";")[0].strip().lower()
        target = loaded.spec.target_schemas.get(bound.name)
        options = TranslateOptions(
            operation=bound.key,
            direction="output",
            content_type=reply.content_type if media == "multipart/related" else None,
            target_schema=target,
        )
        looks_like_xml = media in ("text/xml", "application/xml", "application/soap+xml") or (
            media in ("", "multipart/related") or reply.body.lstrip()[:1] == b"<"
        )
        if not looks_like_xml or (reply.status >= 300 and reply.status != 500):
            raise UpstreamInvalidError(
                f"{name}: the upstream answered HTTP {reply.status} ({media or 'no type'}), "
                "not a SOAP reply",
                service=name,
                upstream_status=reply.status,
                attempts=reply.attempts,
            )
        try:
            translation = self.translator.translate(
                reply.body, WsdlRef(name=loaded.compiled.name), options
            )
        except SoapFaultError as exc:
            raise _classify_fault(exc, name, reply) from exc
        except BadInputError as exc:
            raise UpstreamInvalidError(
                f"{name}: the upstream reply is not a valid {bound.name} response: {exc.detail}",
                service=name,
                upstream_status=reply.status,
                reason=exc.code,
                attempts=reply.attempts,
            ) from exc
        if reply.status != 200:
            raise UpstreamInvalidError(
                f"{name}: the upstream answered HTTP {reply.status} without a SOAP fault",
                service=name,
                upstream_status=reply.status,
            )
        headers = {"X-Translation-Schema": translation.schema_id}
        kinds = [f.kind for f in translation.fallbacks]
        if kinds:
            headers["X-Translation-Fallback"] = ",".join(kinds)
        if translation.warnings:
            headers["X-Translation-Warnings"] = str(len(translation.warnings))
        if translation.deviations:
            headers["X-Translation-Deviations"] = header_value(translation.deviations)
            if self.listener.on_deviation is not None:
                for deviation in translation.deviations:
                    self.listener.on_deviation(deviation.kind)
        headers["X-Upstream-Attempts"] = str(reply.attempts)
        return BridgeResponse(
            200, dumps(translation.data).encode(), headers, attempts=reply.attempts
        )

    # -- descriptions --------------------------------------------------------------------
    def input_example(self, bound: BoundOperation) -> Any:
        from translators.bridge.openapi import example_for

        return example_for(bound.input.schema)


def _spec_version(spec: ServiceSpec) -> str:
    raw = json.dumps(spec.stored(), sort_keys=True)
    stamp = ""
    if not spec.wsdl.startswith(("http://", "https://")):
        try:
            stat = Path(spec.wsdl).expanduser().stat()
            stamp = f"{stat.st_mtime_ns}:{stat.st_size}"
        except OSError:
            stamp = "missing"
    return hashlib.sha256((raw + stamp).encode()).hexdigest()


def _parse_json(body: bytes) -> Any:
    try:
        # Decimals keep their digits on the way to the envelope (xs:decimal is exact).
        return json.loads(body or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"the request body is not JSON: {exc}") from None


def _size(data: Any) -> int:
    return len(dumps(data)) if isinstance(data, dict | list) else 0


def _classify_fault(exc: SoapFaultError, name: str, reply: UpstreamReply) -> SoapFaultError:
    code = exc.fault_code.rpartition(":")[2].rpartition("}")[2]
    kind = code.split(".")[0]
    if kind not in ("Client", "Sender"):
        exc.extra.update(service=name, upstream_status=reply.status)
        return exc
    client = SoapClientFaultError(
        exc.detail,
        fault_code=exc.fault_code,
        reason=exc.reason,
        actor=exc.actor,
        fault_detail=exc.fault_detail,
        soap_version=exc.soap_version,
        subcodes=exc.subcodes,
        service=name,
        upstream_status=reply.status,
    )
    return client


def _error_record(exc: SoapFaultError) -> str:
    return json.dumps(
        {
            "class": type(exc).__name__,
            "detail": exc.detail,
            "extra": exc.extra,
            "fields": {
                "fault_code": exc.fault_code,
                "reason": exc.reason,
                "actor": exc.actor,
                "fault_detail": exc.fault_detail,
                "soap_version": exc.soap_version,
                "subcodes": list(exc.subcodes),
            },
        },
        default=str,
    )


def _first_attempt(exc: UpstreamTimeoutError, request_id: str | None) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "request_id": request_id,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "problem": exc.code,
        "detail": exc.detail,
        "attempts": exc.extra.get("attempts", 1),
    }


def _replay(stored: StoredResponse, service: str, operation: str) -> BridgeResponse:
    unknown = stored.headers.get("outcome_unknown")
    if unknown is not None:
        first = json.loads(unknown)
        named = f" (request {first['request_id']})" if first.get("request_id") else ""
        raise IdempotencyOutcomeUnknownError(
            f"the first call with this Idempotency-Key{named} timed out at {first['at']} after "
            "the upstream got the request; it may have acted, so it is not sent again. "
            "Check the upstream, then use a new key to send again",
            service=service,
            operation=operation,
            first_attempt=first,
        )
    error = stored.headers.get("error")
    if error is not None:
        record = json.loads(error)
        cls = SoapClientFaultError if record["class"] == "SoapClientFaultError" else SoapFaultError
        fields = record["fields"]
        extra = {k: v for k, v in record["extra"].items() if k != "fault"}
        replayed = cls(
            record["detail"],
            fault_code=fields["fault_code"],
            reason=fields["reason"],
            actor=fields["actor"],
            fault_detail=fields["fault_detail"],
            soap_version=fields["soap_version"],
            subcodes=tuple(fields["subcodes"]),
            **extra,
            replayed=True,
        )
        raise replayed
    headers = {**stored.headers, "Idempotent-Replayed": "true"}
    return BridgeResponse(stored.status, stored.body, headers, replayed=True)
