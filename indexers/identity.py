"""A unit's identity in the store: the one place point ids are computed.

A point id is a uuid5 over (tenant, source identity, sha256 of the source bytes, unit
locator, versions). The source identity is what the payload's ``source`` holds: the
absolute path of an indexed file, or ``upload://name`` for an upload. It is part of the id
because two sources with the same bytes are two sources: each has its own points, its own
search hits, and deleting one leaves the other alone.

``versions`` names everything that changes what a unit's vectors are (encoder versions, the
lexical tokeniser's) plus :data:`ID_SCHEME`, the version of this rule itself: when the rule
changes, every existing point's versions key differs, so the next index of a source
re-embeds it under the new ids and drops the old-id points (no duplicates left behind).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

POINT_NAMESPACE = uuid.UUID("8f3a4b52-6c1d-5e7f-9a0b-1c2d3e4f5a6b")
# 1: (tenant, sha256, unit, versions), which merged sources with the same bytes.
# 2: the source identity joined the id.
ID_SCHEME = "2"
_ID_SCHEME_KEY = "id_scheme"
_SEP = "\x1f"


def versions_key(versions: Mapping[str, str]) -> str:
    """A short stable key over the versions (and the id scheme): stored on every point as
    ``models_key``; a source whose key differs is re-embedded."""
    items = {**versions, _ID_SCHEME_KEY: ID_SCHEME}
    text = "|".join(f"{k}={v}" for k, v in sorted(items.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_id(*, tenant: str, source: str, sha256: str, unit: str, versions: str) -> str:
    """Deterministic: the same source, bytes, unit and versions always give the same id.

    ``versions`` is a :func:`versions_key`."""
    return str(uuid.uuid5(POINT_NAMESPACE, _SEP.join((tenant, source, sha256, unit, versions))))
