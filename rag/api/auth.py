"""API keys -> tenants. Every data route depends on ``Tenant``; the store queries then carry
the tenant filter, so no request can reach another tenant's points."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, Request

from rag.api.state import ServiceState, get_state
from rag.errors import AuthError

logger = logging.getLogger(__name__)

DEFAULT_TENANT = "default"


def resolve_tenant(request: Request, state: Annotated[ServiceState, Depends(get_state)]) -> str:
    keys = state.settings.api.keys
    if not keys:
        return DEFAULT_TENANT
    presented = request.headers.get("X-API-Key")
    if presented is None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else None
    if not presented:
        raise AuthError("missing API key: send X-API-Key or Authorization: Bearer")
    tenant = None
    for name, secret in keys.items():
        # Compare against every key, always, so timing does not tell which one is close.
        if hmac.compare_digest(presented.encode(), secret.get_secret_value().encode()):
            tenant = name
    if tenant is None:
        raise AuthError("invalid API key")
    return tenant


Tenant = Annotated[str, Depends(resolve_tenant)]
