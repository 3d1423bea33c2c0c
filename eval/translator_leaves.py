"""An independent walk of a SOAP message's leaves against its JSON translation.

Shared by ``mmrag eval translator`` and ``bench/translate_fidelity.py``: every leaf element
(no child elements) and every data attribute of each body element is looked up at its place
in the JSON (``/a/b[0]/@c``) and compared by value, tolerating the representation the XSD
type implies (numbers, booleans, ``null`` for ``xsi:nil``, whitespace as XSD collapses it,
QNames in Clark notation, ``xs:list`` arrays). A subtree the JSON lacks counts every leaf in
it as missed. Each matched leaf is recorded as a :class:`LeafPair` (JSON path, XML text,
JSON value), which the type-accuracy check uses.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from translators.convert.context import META_ATTRIBUTES
from translators.convert.envelope import open_envelope
from translators.xml.names import XSI, local_name, resolve_prefixed

__all__ = ["LeafPair", "LeafWalk", "LeafWalkResult", "check_leaves", "same_value"]

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LeafPair:
    """A leaf of the XML found in the JSON: where, the XML text, and the JSON value."""

    path: JsonPath
    text: str
    value: Any


@dataclass(frozen=True)
class LeafWalkResult:
    leaves: int  # every leaf of the XML (element text, data attribute)
    found: int  # leaves present at their place with an equal value
    problems: list[str]
    pairs: list[LeafPair]


def same_value(value: Any, text: str, element: etree._Element) -> bool:
    """Whether the JSON ``value`` represents the XML ``text`` (of ``element``)."""
    stripped = text.strip()
    if value is None:
        return stripped == "" or element.get(f"{{{XSI}}}nil") in ("true", "1")
    if isinstance(value, bool):
        return stripped in (("true", "1") if value else ("false", "0"))
    if isinstance(value, int | Decimal):
        try:
            return Decimal(value) == Decimal(stripped.lstrip("+"))
        except InvalidOperation:
            return False
    if isinstance(value, float):
        try:
            return value == float(stripped)
        except ValueError:
            return False
    if isinstance(value, list):
        return [str(v) for v in value] == stripped.split()
    if isinstance(value, str):
        candidates = {text, stripped, " ".join(text.split()), "".join(text.split())}
        if stripped in ("INF", "-INF", "NaN", "+INF"):
            candidates.add(stripped.lstrip("+"))
        resolved = resolve_prefixed(stripped, dict(element.nsmap)) if ":" in stripped else None
        return value in candidates or value == resolved
    return False


def json_key(container: dict[str, Any], name: str) -> str | None:
    """The key of an element or attribute name in a JSON object (``ns1:x`` accepted)."""
    local = local_name(name)
    if local in container:
        return local
    matches = [k for k in container if k.endswith(":" + local)]
    return matches[0] if len(matches) == 1 else None


class LeafWalk:
    def __init__(self, scope: etree._Element) -> None:
        self.ids = {
            el.get("id"): el for el in scope.iter() if isinstance(el.tag, str) and el.get("id")
        }
        self.refs = {str(v)[1:] for v in scope.xpath(".//@href") if str(v).startswith("#")}
        self.leaves = 0
        self.found = 0
        self.problems: list[str] = []
        self.pairs: list[LeafPair] = []

    def referenced(self, node_id: str) -> bool:
        return node_id in self.refs

    def deref(self, element: etree._Element) -> etree._Element:
        href = element.get("href")
        if href and href.startswith("#") and len(element) == 0:
            return self.ids.get(href[1:], element)
        return element

    def _attributes(self, element: etree._Element) -> list[tuple[str, str]]:
        return [
            (k, v)
            for k, v in element.items()
            if k not in META_ATTRIBUTES
            and not k.startswith(f"{{{XSI}}}")
            and not (k == "href" and v.startswith("#"))
            and not (k == "id" and v in self.ids and self.referenced(v))
        ]

    def count(self, element: etree._Element, depth: int = 0) -> int:
        """How many leaves ``element`` holds (for a subtree the JSON lacks)."""
        element = self.deref(element)
        children = [c for c in element if isinstance(c.tag, str)]
        own = len(self._attributes(element))
        if not children or depth > 200:
            return own + 1
        return own + sum(self.count(c, depth + 1) for c in children)

    def _leaf(self, ok: bool, path: JsonPath, text: str, value: Any) -> bool:
        self.leaves += 1
        if ok:
            self.found += 1
            self.pairs.append(LeafPair(path, text, value))
        return ok

    def missing(self, element: etree._Element, problem: str) -> None:
        self.leaves += self.count(element)
        self.problems.append(problem)

    def check(self, element: etree._Element, value: Any, path: str, jpath: JsonPath = ()) -> None:
        element = self.deref(element)
        if element.get(f"{{{XSI}}}nil") in ("true", "1") or element.get(f"{{{XSI}}}null") == "1":
            if not self._leaf(value is None, jpath, "", value):
                self.problems.append(f"{path}: nil element became {value!r}")
            return
        attributes = self._attributes(element)
        children = [c for c in element if isinstance(c.tag, str)]
        if isinstance(value, dict):
            for name, text in attributes:
                key = json_key({k[1:]: v for k, v in value.items() if k.startswith("@")}, name)
                ok = key is not None and same_value(value["@" + key], text, element)
                at = (*jpath, "@" + key) if key is not None else jpath
                if not self._leaf(ok, at, text, value["@" + key] if key else None):
                    self.problems.append(f"{path}/@{local_name(name)}: missing or different")
            if not children:
                text = element.text or ""
                if "#text" in value:
                    if not self._leaf(
                        same_value(value["#text"], text, element),
                        (*jpath, "#text"),
                        text,
                        value["#text"],
                    ):
                        self.problems.append(
                            f"{path}: text {text.strip()[:30]!r} became {value['#text']!r}"
                        )
                elif text.strip():
                    self._leaf(False, jpath, text, None)
                    self.problems.append(f"{path}: text {text.strip()[:30]!r} missing")
                else:
                    self._leaf(True, jpath, text, None)
                return
            counts: collections.Counter[str] = collections.Counter()
            for child in children:
                key = json_key(value, child.tag)
                child_path = f"{path}/{local_name(child.tag)}"
                if key is None:
                    self.missing(child, f"{child_path}: missing")
                    continue
                item = value[key]
                child_jpath: JsonPath = (*jpath, key)
                if isinstance(item, list) and not self._is_list_value(child, item):
                    index = counts[key]
                    counts[key] += 1
                    if index >= len(item):
                        self.missing(child, f"{child_path}[{index}]: missing")
                        continue
                    item = item[index]
                    child_jpath = (*child_jpath, index)
                self.check(child, item, child_path, child_jpath)
            return
        if isinstance(value, list) and children:  # a SOAP-encoded array
            if len(value) != len(children):
                self.problems.append(f"{path}: {len(children)} items became {len(value)}")
            for index, (child, item) in enumerate(zip(children, value, strict=False)):
                self.check(child, item, f"{path}[{index}]", (*jpath, index))
            for child in children[len(value) :]:
                self.leaves += self.count(child)
            return
        if children:
            self.leaves += sum(self.count(c) for c in children)
            self.problems.append(f"{path}: element with children became {type(value).__name__}")
            return
        if attributes:
            self.leaves += len(attributes)
            self.problems.append(
                f"{path}: attributes {[local_name(a) for a, _ in attributes]} dropped"
            )
        text = element.text or ""
        if not self._leaf(same_value(value, text, element), jpath, text, value):
            self.problems.append(f"{path}: {text.strip()[:30]!r} became {value!r}")

    @staticmethod
    def _is_list_value(child: etree._Element, item: list[Any]) -> bool:
        """An xs:list value (a JSON array of tokens) rather than a repeated element."""
        return (
            len(child) == 0
            and bool(item)
            and all(not isinstance(v, dict | list) for v in item)
            and len(item) == len((child.text or "").split()) > 1
            and " ".join(str(v) for v in item) == " ".join((child.text or "").split())
        )


def walk_leaves(root: etree._Element, data: Any) -> LeafWalkResult:
    """Walk every body element of the envelope (or bare message) ``root`` against ``data``."""
    envelope = open_envelope(root)
    walk = LeafWalk(envelope.body)
    if not isinstance(data, dict):
        data = {}
    for message in envelope.messages:
        key = json_key(data, message.tag)
        if key is None and len(data) == 1 and len(envelope.messages) == 1:
            key = next(iter(data))  # an rpc response wrapper keyed by its canonical name
        if key is None:
            walk.missing(message, f"/{local_name(message.tag)}: missing")
            continue
        walk.check(message, data[key], "/" + local_name(message.tag), (key,))
    return LeafWalkResult(walk.leaves, walk.found, walk.problems, walk.pairs)


def check_leaves(root: etree._Element, data: dict[str, Any]) -> tuple[int, list[str]]:
    """(leaves, problems): the fidelity bench's view of :func:`walk_leaves`."""
    result = walk_leaves(root, data)
    return result.leaves, result.problems
