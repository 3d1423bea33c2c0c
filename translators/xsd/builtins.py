"""The XSD built-in simple types: how each maps to JSON and how its lexical form is checked.

Every built-in type belongs to one *kind* that decides its JSON representation:

==========  ===================================================================
kind        JSON value
==========  ===================================================================
string      string (whitespace handled per the type's whiteSpace facet)
boolean     true / false (from ``true``, ``false``, ``1``, ``0``)
decimal     number, written with exactly the digits of the XML (no float rounding)
integer     number without fraction (arbitrary size, exact)
float       number; ``INF``, ``-INF`` and ``NaN`` stay strings (JSON has no such numbers)
temporal    ISO 8601 string, as written (date, time, dateTime, duration, gYear, ...)
binary      string: base64Binary as base64 without whitespace, hexBinary as hex digits
qname       string in Clark notation ``{namespace}local`` (prefixes are not portable)
==========  ===================================================================

List types (``NMTOKENS``, ``IDREFS``, ``ENTITIES`` and ``xs:list``) become JSON arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from translators.xml.names import XSD

Kind = Literal["string", "boolean", "decimal", "integer", "float", "temporal", "binary", "qname"]
WhiteSpace = Literal["preserve", "replace", "collapse"]

# Old SOAP toolkits still write the 1999 and 2000 drafts of the XSD namespace.
XSD_ALIASES: Final = frozenset(
    {XSD, "http://www.w3.org/1999/XMLSchema", "http://www.w3.org/2000/10/XMLSchema"}
)


@dataclass(frozen=True)
class Builtin:
    name: str  # local name in the XSD namespace
    kind: Kind
    base: str | None  # local name of the base built-in (None for anySimpleType)
    whitespace: WhiteSpace = "collapse"
    json_format: str | None = None
    lexical: str | None = None  # regex (anchored by the caller) of the lexical space
    minimum: int | None = None
    maximum: int | None = None
    list_of: str | None = None  # for the built-in list types


_DIGITS = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_INT = r"[+-]?[0-9]+"
_TZ = r"(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
_YEAR = r"-?(?:[1-9][0-9]{3,}|0[0-9]{3})"
_TIME = r"(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?|24:00:00(?:\.0+)?)"
_DATE = _YEAR + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_DURATION = (
    r"-?P(?=[0-9T])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?"
)
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_FLOAT = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?INF|NaN)"

_TABLE: tuple[Builtin, ...] = (
    Builtin("anySimpleType", "string", None, "preserve"),
    Builtin("anyAtomicType", "string", "anySimpleType", "preserve"),
    Builtin("string", "string", "anySimpleType", "preserve"),
    Builtin("normalizedString", "string", "string", "replace"),
    Builtin("token", "string", "normalizedString"),
    Builtin("language", "string", "token", lexical=r"[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*"),
    Builtin("NMTOKEN", "string", "token", lexical=r"[\w.:-]+"),
    Builtin("Name", "string", "token", lexical=r"[^\s\d.:-][^\s]*|:[^\s]*"),
    Builtin("NCName", "string", "Name", lexical=r"[^\s\d.:-][^\s:]*"),
    Builtin("ID", "string", "NCName", lexical=r"[^\s\d.:-][^\s:]*"),
    Builtin("IDREF", "string", "NCName", lexical=r"[^\s\d.:-][^\s:]*"),
    Builtin("ENTITY", "string", "NCName", lexical=r"[^\s\d.:-][^\s:]*"),
    Builtin("anyURI", "string", "anySimpleType", json_format="uri-reference"),
    Builtin("NOTATION", "qname", "anySimpleType"),
    Builtin("QName", "qname", "anySimpleType"),
    Builtin("boolean", "boolean", "anySimpleType"),
    Builtin("decimal", "decimal", "anySimpleType", lexical=_DIGITS),
    Builtin("integer", "integer", "decimal", lexical=_INT),
    Builtin("nonPositiveInteger", "integer", "integer", lexical=_INT, maximum=0),
    Builtin("negativeInteger", "integer", "nonPositiveInteger", lexical=_INT, maximum=-1),
    Builtin("long", "integer", "integer", lexical=_INT, minimum=-(2**63), maximum=2**63 - 1),
    Builtin("int", "integer", "long", lexical=_INT, minimum=-(2**31), maximum=2**31 - 1),
    Builtin("short", "integer", "int", lexical=_INT, minimum=-(2**15), maximum=2**15 - 1),
    Builtin("byte", "integer", "short", lexical=_INT, minimum=-128, maximum=127),
    Builtin("nonNegativeInteger", "integer", "integer", lexical=_INT, minimum=0),
    Builtin("positiveInteger", "integer", "nonNegativeInteger", lexical=_INT, minimum=1),
    Builtin(
        "unsignedLong", "integer", "nonNegativeInteger", lexical=_INT, minimum=0, maximum=2**64 - 1
    ),
    Builtin("unsignedInt", "integer", "unsignedLong", lexical=_INT, minimum=0, maximum=2**32 - 1),
    Builtin("unsignedShort", "integer", "unsignedInt", lexical=_INT, minimum=0, maximum=2**16 - 1),
    Builtin("unsignedByte", "integer", "unsignedShort", lexical=_INT, minimum=0, maximum=255),
    Builtin("float", "float", "anySimpleType", lexical=_FLOAT),
    Builtin("double", "float", "anySimpleType", lexical=_FLOAT),
    Builtin(
        "dateTime",
        "temporal",
        "anySimpleType",
        json_format="date-time",
        lexical=_DATE + "T" + _TIME + _TZ,
    ),
    Builtin(
        "dateTimeStamp",
        "temporal",
        "dateTime",
        json_format="date-time",
        lexical=_DATE + "T" + _TIME + r"(?:Z|[+-][0-9]{2}:[0-9]{2})",
    ),
    Builtin("date", "temporal", "anySimpleType", json_format="date", lexical=_DATE + _TZ),
    Builtin("time", "temporal", "anySimpleType", json_format="time", lexical=_TIME + _TZ),
    Builtin("duration", "temporal", "anySimpleType", json_format="duration", lexical=_DURATION),
    Builtin(
        "dayTimeDuration",
        "temporal",
        "duration",
        json_format="duration",
        lexical=r"-?P(?=[0-9T])(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?"
        r"(?:[0-9]+(?:\.[0-9]+)?S)?)?",
    ),
    Builtin(
        "yearMonthDuration",
        "temporal",
        "duration",
        json_format="duration",
        lexical=r"-?P(?=[0-9])(?:[0-9]+Y)?(?:[0-9]+M)?",
    ),
    Builtin("gYearMonth", "temporal", "anySimpleType", lexical=_YEAR + r"-(?:0[1-9]|1[0-2])" + _TZ),
    Builtin("gYear", "temporal", "anySimpleType", lexical=_YEAR + _TZ),
    Builtin(
        "gMonthDay",
        "temporal",
        "anySimpleType",
        lexical=r"--(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])" + _TZ,
    ),
    Builtin("gDay", "temporal", "anySimpleType", lexical=r"---(?:0[1-9]|[12][0-9]|3[01])" + _TZ),
    Builtin("gMonth", "temporal", "anySimpleType", lexical=r"--(?:0[1-9]|1[0-2])" + _TZ),
    Builtin("hexBinary", "binary", "anySimpleType", lexical=r"(?:[0-9a-fA-F]{2})*"),
    Builtin("base64Binary", "binary", "anySimpleType", lexical=_BASE64),
    Builtin("NMTOKENS", "string", "anySimpleType", list_of="NMTOKEN"),
    Builtin("IDREFS", "string", "anySimpleType", list_of="IDREF"),
    Builtin("ENTITIES", "string", "anySimpleType", list_of="ENTITY"),
)

BUILTINS: Final[dict[str, Builtin]] = {b.name: b for b in _TABLE}

# Compiled, anchored lexical checks (None: every string is in the lexical space).
LEXICAL: Final[dict[str, re.Pattern[str] | None]] = {
    b.name: re.compile(b.lexical) if b.lexical else None for b in _TABLE
}


def builtin_chain(name: str) -> list[str]:
    """``name`` and its built-in ancestors, most derived first."""
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        chain.append(current)
        current = BUILTINS[current].base
    return chain


def derives_from(name: str, ancestor: str) -> bool:
    return ancestor in builtin_chain(name)
