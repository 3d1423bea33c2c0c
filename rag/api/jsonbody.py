"""Decode untrusted JSON request bodies: bounded nesting, valid UTF-8, no lone surrogates.

``json.loads`` turns 5,000 nested brackets into a ``RecursionError`` and ``"\\ud800"`` into a
string that cannot be encoded again (the failure then surfaces deep in a tokeniser or a store
client as a 500). Every route that parses JSON itself goes through :func:`decode_json`; the
checks cost nothing on an ordinary body (they run only when the bytes could trip them)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from rag.errors import BadInputError

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]", re.IGNORECASE)
_BRACKETS = bytes.maketrans(b"", b"")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (strings skipped)."""
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    return max(accumulate(1 if c in b"[{" else -1 for c in brackets), default=0)


def check_json_depth(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    if raw.count(b"[") + raw.count(b"{") > max_depth and json_depth(raw) > max_depth:
        raise BadInputError(f"the JSON body is nested deeper than {max_depth} levels")


def decode_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH, what: str = "the body") -> Any:
    """Parse ``raw`` or raise :class:`BadInputError` (never ``RecursionError``/``UnicodeError``)."""
    check_json_depth(raw, max_depth)
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise BadInputError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise BadInputError(f"{what} is not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw):
        reject_surrogates(value, what)
    return value


def reject_surrogates(value: Any, what: str = "the body") -> None:
    """Raise when any string in ``value`` holds a lone UTF-16 surrogate (``"\\ud800"``)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadInputError(
                    f"{what} holds a lone UTF-16 surrogate (\\ud800-\\udfff), not text"
                ) from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
