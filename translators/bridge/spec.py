"""What a registered SOAP service is: the typed record the registry stores and the bridge uses.

Unset tuning fields (``None``) take the bridge settings' defaults at call time, so changing a
default in the environment changes every service that did not choose its own value.
Passwords are :class:`~pydantic.SecretStr`: they are written to the registry file (mode 0600)
because the bridge needs them, and never shown by ``list``, the admin API or a log line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["BasicAuth", "ServiceSpec", "UpstreamAuth", "WsseAuth"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MASK = "*" * 10  # what a password looks like outside the registry file


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BasicAuth(_Frozen):
    """HTTP basic authentication towards the upstream."""

    kind: Literal["basic"] = "basic"
    username: str = Field(min_length=1)
    password: SecretStr


class WsseAuth(_Frozen):
    """A WS-Security UsernameToken header (built by :mod:`translators.bridge.wsse`)."""

    kind: Literal["wsse"] = "wsse"
    username: str = Field(min_length=1)
    password: SecretStr
    digest: bool = False  # PasswordDigest (with nonce and created) instead of PasswordText


UpstreamAuth = Annotated[BasicAuth | WsseAuth, Field(discriminator="kind")]


class ServiceSpec(_Frozen):
    name: str = Field(pattern=NAME_PATTERN, description="URL-safe name: /v1/bridge/{name}/...")
    wsdl: str = Field(min_length=1, description="Local WSDL path or an allow-listed http(s) URL")
    endpoint: str | None = Field(default=None, description="Overrides the WSDL's soap:address")
    port: str | None = Field(default=None, description="WSDL port to use (default: first SOAP)")
    timeout_s: float | None = Field(default=None, gt=0, le=600)
    connect_timeout_s: float | None = Field(default=None, gt=0, le=120)
    max_concurrency: int | None = Field(default=None, ge=1, le=1024)
    retries: int | None = Field(default=None, ge=0, le=10)
    idempotent: tuple[str, ...] = Field(
        default=(), description="Operations safe to retry (and only these are retried)"
    )
    auth: UpstreamAuth | None = None
    target_schemas: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per operation: a JSON Schema the reply is mapped to (translator mappings)",
    )
    description: str = ""

    @field_validator("endpoint")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("endpoint must be an http(s) URL")
        return value

    def public(self) -> dict[str, Any]:
        """The record as the API and the CLI show it: secrets replaced by a marker."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["name"] = self.name
        if self.auth is not None:
            data["auth"] = {"kind": self.auth.kind, "username": self.auth.username}
            data["auth"]["password"] = MASK
        return data

    def stored(self) -> dict[str, Any]:
        """The record as the registry file keeps it (secrets included)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["name"] = self.name
        if self.auth is not None:
            data["auth"] = self.auth.model_dump(mode="json") | {
                "password": self.auth.password.get_secret_value()
            }
        return data
