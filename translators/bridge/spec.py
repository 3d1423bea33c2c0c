"""What a registered SOAP service is: the typed record the registry stores and the bridge uses.

Unset tuning fields (``None``) take the bridge settings' defaults at call time, so changing a
default in the environment changes every service that did not choose its own value.
Passwords are :class:`~pydantic.SecretStr`: they are written to the registry file (mode 0600)
because the bridge needs them, and never shown by ``list``, the admin API or a log line.

Services are per tenant: ``tenants`` names the tenants (API-key names) that may call a
service, read its OpenAPI document or see it listed; any other tenant is told it does not
exist (404). ``["*"]`` opens a service to every tenant, which a service holding upstream
credentials may not do (they are used only on behalf of named tenants). A record without
``tenants`` (every record written before they existed) is callable by the ``default`` tenant
only: that is every caller of a deployment without API keys, so single-tenant set-ups work as
before, while a multi-tenant one fails closed until an administrator names the tenants.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "ALL_TENANTS",
    "DEFAULT_TENANT",
    "BasicAuth",
    "ServiceSpec",
    "UpstreamAuth",
    "WsseAuth",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
ALL_TENANTS = "*"
DEFAULT_TENANT = "default"  # the tenant of every request when no API keys are configured
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
    tenants: tuple[str, ...] | None = Field(
        default=None,
        description="Tenants that may call it ('*': all; unset: the default tenant only)",
    )

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        names = tuple(dict.fromkeys(name.strip() for name in value))
        if not names or any(not name or len(name) > 128 for name in names):
            raise ValueError("name at least one tenant, each 1..128 characters")
        return names

    @model_validator(mode="after")
    def _credentials_need_named_tenants(self) -> ServiceSpec:
        if self.auth is not None and self.tenants is not None and ALL_TENANTS in self.tenants:
            raise ValueError("a service with upstream credentials must name its tenants, not '*'")
        return self

    def allows(self, tenant: str) -> bool:
        """May ``tenant`` call this service (and see that it exists)?"""
        tenants = self.tenants if self.tenants is not None else (DEFAULT_TENANT,)
        return ALL_TENANTS in tenants or tenant in tenants

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
        if self.tenants is None:  # say who may call it, also when the record does not
            data["tenants"] = [DEFAULT_TENANT]
            data["tenants_unset"] = True
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
