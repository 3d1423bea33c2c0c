"""Deterministic JSON text: the same value always gives the same bytes.

Decimals are written with exactly their digits (``1.50`` stays ``1.50``; no float rounding),
keys keep their insertion order (which follows the message and the schema, both fixed for a
given input), and nothing depends on the process (no hash-ordered sets, no timestamps).
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "plain"]

# Decimals travel through the C encoder as marked strings and are unquoted afterwards. The
# marker starts with U+0000, which no XML text can contain, plus a per-process nonce so that
# no other string can imitate it either.
_NONCE = secrets.token_hex(8)
_MARK = f"\x00{_NONCE}:"
_MARKED = re.compile(r'"\\u0000' + _NONCE + r':(-?[0-9]+(?:\.[0-9]+)?)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value}")
        return _MARK + format(value, "f")
    if isinstance(value, tuple | frozenset | set):
        raise TypeError(f"{type(value).__name__} is not a JSON value here")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, *, pretty: bool = False) -> str:
    """JSON text for ``value`` (dicts, lists, str, int, float, bool, None, Decimal)."""
    text = json.dumps(
        value,
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
        indent=2 if pretty else None,
        separators=(",", ": ") if pretty else (",", ":"),
    )
    if "\\u0000" in text:
        text = _MARKED.sub(r"\1", text)
    return text


def plain(value: Any) -> Any:
    """``value`` with Decimals turned into int/float (exact) or str, for plain json users."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and "." not in format(value, "f"):
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else format(value, "f")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
