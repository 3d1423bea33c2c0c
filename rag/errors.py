"""Domain errors shared by the service, the CLI and the jobs.

The tree::

    MmragError                      anything mmrag raises on purpose
    ├── BadInputError               the caller sent something unusable (HTTP 400)
    │   ├── UnsupportedMediaError   a file or upload of a type mmrag does not handle (415)
    │   ├── PayloadTooLargeError    over a configured size limit (413)
    │   ├── XmlRejectedError        XML with a forbidden construct: DTD, entity, XInclude, depth
    │   ├── MalformedXmlError       not well-formed XML, or a wrong encoding declaration
    │   ├── WsdlError               a WSDL/XSD that cannot be loaded or used
    │   ├── MessageMismatchError    a message that does not fit its operation or schema
    │   ├── MappingError            a mapping file or rule that is invalid
    │   ├── RequestInvalidError     a JSON request that fails its schema; names the fields (422)
    │   └── IdempotencyKeyReusedError  same Idempotency-Key, different request (422)
    ├── NotFoundError               a named thing does not exist (404)
    ├── AuthError                   missing or wrong credentials (401)
    ├── ConflictError               the request collides with one still running (409)
    ├── ConfigError                 the settings name something that cannot work
    ├── ModelUnavailableError       a model could not be loaded or is still loading (503)
    ├── StoreError                  the vector store failed (503)
    │   └── StoreLockedError        the embedded store is open in another process
    ├── OverloadedError             a concurrency limit is full; retry later (503)
    └── UpstreamError               a remote dependency failed (502)
        ├── SoapFaultError          a SOAP Fault, kept as structured data (code, reason, ...)
        │   └── SoapClientFaultError  a Client/Sender fault: the request was refused (400)
        ├── UpstreamTimeoutError    no answer within the timeout (504)
        ├── UpstreamUnreachableError  connection refused, reset or dropped (502)
        └── UpstreamInvalidError    an answer that is not a SOAP reply of the operation (502)

Errors carry data as attributes and chain their cause with ``raise ... from exc``.
The HTTP layer maps them to RFC 9457 problem documents in one place
(:mod:`rag.api.problems`); the CLI turns them into a message and an exit code.
"""

from __future__ import annotations

from typing import Any


class MmragError(Exception):
    """Base class. ``detail`` is safe to show to callers (never a secret or a stack)."""

    code: str = "internal"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra


class BadInputError(MmragError):
    code = "bad-input"


class UnsupportedMediaError(BadInputError):
    code = "unsupported-media"


class PayloadTooLargeError(BadInputError):
    code = "payload-too-large"


class NotFoundError(MmragError):
    code = "not-found"


class AuthError(MmragError):
    code = "unauthorized"


class ConfigError(MmragError):
    code = "config"


class ModelUnavailableError(MmragError):
    code = "model-unavailable"

    def __init__(self, detail: str, *, model: str, **extra: Any) -> None:
        super().__init__(detail, model=model, **extra)
        self.model = model


class StoreError(MmragError):
    code = "store-unavailable"


class StoreLockedError(StoreError):
    code = "store-locked"


class ConflictError(MmragError):
    code = "conflict"


class IdempotencyOutcomeUnknownError(ConflictError):
    """An earlier call with this Idempotency-Key timed out after the upstream got the
    request: it may have acted, so the bridge does not send again (``first_attempt``)."""

    code = "idempotency-outcome-unknown"


class OverloadedError(MmragError):
    """A bounded resource is full; ``retry_after_s`` says when to try again."""

    code = "overloaded"

    def __init__(self, detail: str, *, retry_after_s: float = 1.0, **extra: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extra)
        self.retry_after_s = retry_after_s


class UpstreamError(MmragError):
    code = "upstream"


class UpstreamTimeoutError(UpstreamError):
    code = "upstream-timeout"


class UpstreamUnreachableError(UpstreamError):
    code = "upstream-unreachable"


class UpstreamInvalidError(UpstreamError):
    code = "upstream-invalid"


class RequestInvalidError(BadInputError):
    """A JSON request that fails its schema: ``errors`` lists each field (path and reason)."""

    code = "request-invalid"

    def __init__(self, detail: str, *, errors: list[dict[str, str]], **extra: Any) -> None:
        super().__init__(detail, errors=errors, **extra)
        self.errors = errors


class IdempotencyKeyReusedError(BadInputError):
    code = "idempotency-key-reused"


class XmlRejectedError(BadInputError):
    """XML refused for safety: ``reason`` is dtd, entity, xinclude or depth."""

    code = "xml-rejected"

    def __init__(self, detail: str, *, reason: str, **extra: Any) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


class MalformedXmlError(BadInputError):
    code = "xml-malformed"

    def __init__(self, detail: str, *, line: int | None = None, **extra: Any) -> None:
        super().__init__(detail, line=line, **extra)
        self.line = line


class WsdlError(BadInputError):
    """A WSDL or XSD that cannot be used; ``construct`` names what was unsupported."""

    code = "wsdl-invalid"

    def __init__(self, detail: str, *, construct: str, location: str = "", **extra: Any) -> None:
        super().__init__(detail, construct=construct, location=location, **extra)
        self.construct = construct
        self.location = location


class MessageMismatchError(BadInputError):
    """The message does not fit its operation; ``path`` points at the first misfit."""

    code = "message-mismatch"

    def __init__(self, detail: str, *, path: str = "", **extra: Any) -> None:
        super().__init__(detail, path=path, **extra)
        self.path = path


class MappingError(BadInputError):
    code = "mapping-invalid"


class SoapFaultError(UpstreamError):
    """A SOAP Fault. The fields keep the fault's structure; ``detail`` is the human summary."""

    code = "soap-fault"

    def __init__(
        self,
        detail: str,
        *,
        fault_code: str,
        reason: str,
        actor: str | None = None,
        fault_detail: Any = None,
        soap_version: str = "1.1",
        subcodes: tuple[str, ...] = (),
        **extra: Any,
    ) -> None:
        super().__init__(
            detail,
            fault={
                "code": fault_code,
                "subcodes": list(subcodes),
                "reason": reason,
                "actor": actor,
                "detail": fault_detail,
                "soap_version": soap_version,
            },
            **extra,
        )
        self.fault_code = fault_code
        self.subcodes = subcodes
        self.reason = reason
        self.actor = actor
        self.fault_detail = fault_detail
        self.soap_version = soap_version


class SoapClientFaultError(SoapFaultError):
    """A fault whose code blames the sender (SOAP 1.1 ``Client``, SOAP 1.2 ``Sender``)."""

    code = "soap-client-fault"
