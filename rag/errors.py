"""Domain errors shared by the service, the CLI and the jobs.

The tree::

    MmragError                      anything mmrag raises on purpose
    ├── BadInputError               the caller sent something unusable (HTTP 400)
    │   ├── UnsupportedMediaError   a file or upload of a type mmrag does not handle (415)
    │   └── PayloadTooLargeError    over a configured size limit (413)
    ├── NotFoundError               a named thing does not exist (404)
    ├── AuthError                   missing or wrong credentials (401)
    ├── ConfigError                 the settings name something that cannot work
    ├── ModelUnavailableError       a model could not be loaded or is still loading (503)
    ├── StoreError                  the vector store failed (503)
    │   └── StoreLockedError        the embedded store is open in another process
    └── UpstreamError               a remote dependency failed (502)

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


class UpstreamError(MmragError):
    code = "upstream"
