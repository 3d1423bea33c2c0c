"""Simple XML values to JSON values, per the simple type's kind (see
:mod:`translators.xsd.builtins` for the table).

One converter function is built per simple type and cached, so converting a message does no
type dispatch per value beyond one call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lxml import etree

from translators.xml.names import resolve_prefixed
from translators.xsd.builtins import LEXICAL
from translators.xsd.model import SimpleType

__all__ = ["LexicalError", "ValueConverters", "collapse", "decimal_from_lexical"]

ValueFn = Callable[[str, etree._Element], Any]

_XML_SPACE = re.compile(r"[ \t\n\r]+")
_NON_FINITE = {"INF": "INF", "+INF": "INF", "-INF": "-INF", "NaN": "NaN"}
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class LexicalError(ValueError):
    """A value outside its type's lexical space (the message does not fit its schema)."""


def collapse(text: str) -> str:
    """XSD whiteSpace="collapse": XML whitespace runs become one space, ends trimmed."""
    stripped = text.strip(" \t\n\r")
    if "  " in stripped or "\t" in stripped or "\n" in stripped or "\r" in stripped:
        return _XML_SPACE.sub(" ", stripped)
    return stripped


def _replace(text: str) -> str:
    return text.translate(_REPLACE_TABLE)


_REPLACE_TABLE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def decimal_from_lexical(text: str) -> Decimal:
    """A Decimal with exactly the digits written (``+01.50`` -> ``1.50``)."""
    if not _DECIMAL.fullmatch(text):
        raise LexicalError(f"{text!r} is not a decimal")
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("+-")
    whole, _, fraction = body.partition(".")
    whole = whole.lstrip("0") or "0"
    return Decimal(sign + whole + ("." + fraction if fraction else ""))


class ValueConverters:
    """Builds and caches one converter per simple type."""

    def __init__(self) -> None:
        self._cache: dict[int, ValueFn] = {}
        self._keep: list[SimpleType] = []

    def get(self, simple: SimpleType) -> ValueFn:
        fn = self._cache.get(id(simple))
        if fn is None:
            fn = self._build(simple, depth=0)
            self._cache[id(simple)] = fn
            self._keep.append(simple)
        return fn

    def _build(self, simple: SimpleType, depth: int) -> ValueFn:
        if depth > 32:
            raise LexicalError("simple type nesting too deep")
        if simple.variety == "list":
            assert simple.item is not None
            item_fn = self._build(simple.item, depth + 1)

            def convert_list(text: str, element: etree._Element) -> Any:
                return [item_fn(token, element) for token in collapse(text).split(" ") if token]

            return _with_lexical_facets(convert_list, simple)
        if simple.variety == "union":
            member_fns = [self._build(member, depth + 1) for member in simple.members]

            def convert_union(text: str, element: etree._Element) -> Any:
                for fn in member_fns:
                    try:
                        return fn(text, element)
                    except LexicalError:
                        continue
                raise LexicalError(f"{text!r} fits no member of the union")

            return _with_lexical_facets(convert_union, simple)
        return _atomic(simple)


def _normaliser(simple: SimpleType) -> Callable[[str], str]:
    mode = simple.whitespace
    if mode == "collapse":
        return collapse
    if mode == "replace":
        return _replace
    return lambda text: text


def _atomic(simple: SimpleType) -> ValueFn:
    normalise = _normaliser(simple)
    builtin = simple.builtin
    kind = builtin.kind
    lexical = LEXICAL.get(builtin.name)
    name = builtin.name
    minimum, maximum = builtin.minimum, builtin.maximum
    facets = simple.facets

    if kind == "string":

        def convert_string(text: str, element: etree._Element) -> Any:
            value = normalise(text)
            if lexical is not None and not lexical.fullmatch(value):
                raise LexicalError(f"{value!r} is not a valid {name}")
            return value

        return convert_string
    if kind == "boolean":

        def convert_boolean(text: str, element: etree._Element) -> Any:
            value = collapse(text)
            if value in ("true", "1"):
                return True
            if value in ("false", "0"):
                return False
            raise LexicalError(f"{value!r} is not a boolean")

        return convert_boolean
    if kind == "integer":

        def convert_integer(text: str, element: etree._Element) -> Any:
            value = collapse(text)
            if lexical is not None and not lexical.fullmatch(value):
                raise LexicalError(f"{value!r} is not a valid {name}")
            number = int(value)
            if (minimum is not None and number < minimum) or (
                maximum is not None and number > maximum
            ):
                raise LexicalError(f"{value} is out of range for {name}")
            return number

        return convert_integer
    if kind == "decimal":
        total, fraction = facets.total_digits, facets.fraction_digits

        def convert_decimal(text: str, element: etree._Element) -> Any:
            number = decimal_from_lexical(collapse(text))
            if total is not None or fraction is not None:
                _check_digits(number, total, fraction)
            return number

        return convert_decimal
    if kind == "float":

        def convert_float(text: str, element: etree._Element) -> Any:
            value = collapse(text)
            special = _NON_FINITE.get(value)
            if special is not None:
                return special
            if lexical is not None and not lexical.fullmatch(value):
                raise LexicalError(f"{value!r} is not a valid {name}")
            number = float(value)
            if number in (float("inf"), float("-inf")):
                return "INF" if number > 0 else "-INF"
            return number

        return convert_float
    if kind == "temporal":

        def convert_temporal(text: str, element: etree._Element) -> Any:
            value = collapse(text)
            if lexical is not None and not lexical.fullmatch(value):
                raise LexicalError(f"{value!r} is not a valid {name}")
            return value

        return convert_temporal
    if kind == "binary":
        is_base64 = name == "base64Binary" or builtin.name == "base64Binary"

        def convert_binary(text: str, element: etree._Element) -> Any:
            value = "".join(text.split()) if is_base64 else collapse(text)
            if lexical is not None and not lexical.fullmatch(value):
                raise LexicalError(f"{value[:40]!r} is not valid {name}")
            return value

        return convert_binary
    assert kind == "qname"

    def convert_qname(text: str, element: etree._Element) -> Any:
        value = collapse(text)
        resolved = resolve_prefixed(value, dict(element.nsmap))
        if resolved is None:
            raise LexicalError(f"{value!r} uses an undeclared namespace prefix")
        return resolved

    return convert_qname


def _with_lexical_facets(fn: ValueFn, simple: SimpleType) -> ValueFn:
    """Enumerations on list and union types compare lexical forms (JSON Schema cannot)."""
    enumeration = simple.facets.enumeration
    if not enumeration:
        return fn
    allowed = {collapse(v) for v in enumeration}

    def checked(text: str, element: etree._Element) -> Any:
        if collapse(text) not in allowed:
            raise LexicalError(f"{collapse(text)!r} is not one of the enumerated values")
        return fn(text, element)

    return checked


def _check_digits(number: Decimal, total: int | None, fraction: int | None) -> None:
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    fraction_digits = max(0, -exponent)
    # Trailing fractional zeros do not count (1.50 has 1 fraction digit).
    stripped = list(digits)
    while fraction_digits and stripped and stripped[-1] == 0:
        stripped.pop()
        fraction_digits -= 1
    significant = len("".join(map(str, stripped)).lstrip("0")) or 1
    if fraction is not None and fraction_digits > fraction:
        raise LexicalError(f"{number} has more than {fraction} fraction digits")
    if total is not None and max(significant, fraction_digits) > total:
        raise LexicalError(f"{number} has more than {total} digits")
