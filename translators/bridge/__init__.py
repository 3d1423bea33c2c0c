"""The SOAP-to-REST bridge: registered SOAP services called as JSON over HTTP.

The HTTP routes live in the app layer (:mod:`rag.api.bridge`); the CLI in
:mod:`rag.cli.bridge`. This package is the part that needs neither: the service registry,
WSDL binding (the serializer builds requests and the translator reads replies, both from one
compiled schema), the per-upstream pool with timeouts, a concurrency limit and retries,
Idempotency-Key stores and the OpenAPI document.
"""

from translators.bridge.bridge import Bridge, BridgeListener, BridgeResponse
from translators.bridge.registry import ServiceRegistry
from translators.bridge.spec import BasicAuth, ServiceSpec, WsseAuth

__all__ = [
    "BasicAuth",
    "Bridge",
    "BridgeListener",
    "BridgeResponse",
    "ServiceRegistry",
    "ServiceSpec",
    "WsseAuth",
]
