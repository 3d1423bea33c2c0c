"""How a complex type's content becomes one JSON object: the layout both the JSON Schema
generator and the converter follow, so the two can never disagree.

The convention (documented in ``docs/translator.md``):

- an attribute becomes the key ``@<local name>``; simple content (and the text of mixed
  content) becomes ``#text``;
- a child element becomes the key ``<local name>``; when two different child elements of one
  type share a local name, the later ones are keyed ``<prefix>:<local name>`` with a prefix
  fixed per namespace (``ns1``, ``ns2``, ... in order of first use);
- a child that may occur more than once (its own ``maxOccurs``, or a repeated enclosing group)
  is always a JSON array, even with one item; a child that may be absent is an optional key;
- ``xs:choice`` branches are alternatives (``oneOf`` in the schema); ``xs:all`` and
  ``xs:sequence`` are plain keys (the order of keys is not significant in JSON);
- elements of a substitution group appear under their own names;
- ``xs:any`` admits further keys, typed when the element is declared globally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from translators.xml.names import local_name, namespace_of
from translators.xsd.model import (
    AttributeUse,
    ComplexType,
    ElementDecl,
    ElementParticle,
    GroupParticle,
    Particle,
    SimpleType,
    WildcardParticle,
)

__all__ = ["ChoiceConstraint", "ComplexLayout", "Slot", "WildcardSlot", "layout_of"]


def _mul(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a * b


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


@dataclass(eq=False)
class Slot:
    """One JSON key for one or more child element names."""

    key: str
    element: ElementDecl  # the declaration governing values under this key
    min_occurs: int
    max_occurs: int | None

    @property
    def array(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1

    @property
    def required(self) -> bool:
        return self.min_occurs >= 1


@dataclass(frozen=True)
class WildcardSlot:
    namespaces: str
    process_contents: Literal["strict", "lax", "skip"]
    array: bool

    def admits(self, name: str) -> bool:
        namespace = namespace_of(name)
        if self.namespaces == "##any":
            return True
        if self.namespaces.startswith("##other:"):
            return namespace not in ("", self.namespaces[len("##other:") :])
        return namespace in self.namespaces.split(" ") or (
            namespace == "" and "" in self.namespaces.split(" ")
        )


@dataclass(frozen=True)
class ChoiceConstraint:
    """At most one branch present (exactly one when ``required``); keys per branch."""

    branches: tuple[tuple[str, ...], ...]
    required_in_branch: tuple[tuple[str, ...], ...]
    required: bool


@dataclass(eq=False)
class ComplexLayout:
    type: ComplexType
    attributes: dict[str, tuple[str, AttributeUse]]  # XML name -> (key, use)
    slots: list[Slot]
    by_name: dict[str, Slot]  # XML element name -> slot
    wildcard: WildcardSlot | None
    text: SimpleType | None  # simple content
    mixed: bool
    choices: list[ChoiceConstraint] = field(default_factory=list)
    # Keys of which at least one must appear (a required head of a substitution group).
    any_of_required: list[tuple[str, ...]] = field(default_factory=list)
    # Keys whose values together may not exceed a count (a substitution group or a repeated
    # choice of single elements): JSON Schema cannot say this; the converter checks it.
    shared_limits: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    @property
    def required(self) -> list[str]:
        keys = [key for key, use in self.attributes.values() if use.required]
        keys += [slot.key for slot in self.slots if slot.required]
        if self.text is not None:
            keys.append("#text")
        return keys


@dataclass
class _Occurrence:
    element: ElementDecl
    min_occurs: int
    max_occurs: int | None


class _Builder:
    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        self.occurrences: dict[str, _Occurrence] = {}  # by XML name, in order of first use
        self.wildcards: list[tuple[WildcardParticle, int | None]] = []
        self.choices: list[ChoiceConstraint] = []
        self.any_of: list[tuple[str, ...]] = []
        self.contributions: dict[str, int] = {}  # how many particles name each element
        self.shared: list[tuple[tuple[str, ...], int]] = []

    def walk(self, particle: Particle, mult_min: int, mult_max: int | None) -> list[str]:
        """Record the particle's elements; return the XML names it may contribute."""
        if isinstance(particle, ElementParticle):
            return self.element(particle, mult_min, mult_max)
        if isinstance(particle, WildcardParticle):
            self.wildcards.append((particle, _mul(mult_max, particle.max_occurs)))
            return []
        assert isinstance(particle, GroupParticle)
        inner_min = mult_min * particle.min_occurs
        inner_max = _mul(mult_max, particle.max_occurs)
        if particle.kind != "choice" or len(particle.items) <= 1:
            names: list[str] = []
            for item in particle.items:
                names += self.walk(item, inner_min, inner_max)
            return names
        branches: list[list[str]] = []
        required_in: list[list[str]] = []
        for item in particle.items:
            branch = self.walk(item, 0, inner_max)
            branches.append(branch)
            # Required within the branch: what the branch itself demands when taken.
            required_in.append([n for n in branch if _branch_min(item, n) >= 1])
        singles = all(isinstance(item, ElementParticle) for item in particle.items)
        if singles and inner_max is not None and inner_max > 1:
            self.shared.append((tuple(n for b in branches for n in b), inner_max))
        if inner_max == 1:
            flat = [n for b in branches for n in b]
            if len(flat) == len(set(flat)) and all(branches):
                self.choices.append(
                    ChoiceConstraint(
                        tuple(tuple(b) for b in branches),
                        tuple(tuple(r) for r in required_in),
                        required=inner_min >= 1 and all(required_in),
                    )
                )
        return [n for b in branches for n in b]

    def element(self, particle: ElementParticle, mult_min: int, mult_max: int | None) -> list[str]:
        decl = particle.element
        eff_min = mult_min * particle.min_occurs
        eff_max = _mul(mult_max, particle.max_occurs)
        members = [decl, *decl.substitutes] if decl.substitutes else [decl]
        names: list[str] = []
        if len(members) > 1:
            concrete = [m for m in members if not m.abstract]
            if eff_min >= 1 and concrete:
                self.any_of.append(tuple(m.name for m in concrete))
            if eff_max is not None and eff_max > 1 and len(concrete) > 1:
                self.shared.append((tuple(m.name for m in concrete), eff_max))
            eff_min = 0
        for member in members:
            if member.abstract and len(members) > 1:
                continue
            names.append(member.name)
            self.contributions[member.name] = self.contributions.get(member.name, 0) + 1
            seen = self.occurrences.get(member.name)
            if seen is None:
                self.occurrences[member.name] = _Occurrence(member, eff_min, eff_max)
            else:  # the same element named twice in one content model
                seen.min_occurs += eff_min
                seen.max_occurs = _add(seen.max_occurs, eff_max)
        return names

    def prefix(self, namespace: str) -> str:
        if namespace not in self.prefixes:
            self.prefixes[namespace] = f"ns{len(self.prefixes) + 1}"
        return self.prefixes[namespace]


def _branch_min(particle: Particle, name: str) -> int:
    """Minimum occurrences of ``name`` inside ``particle`` when the particle is taken once."""
    if isinstance(particle, ElementParticle):
        return particle.min_occurs if particle.element.name == name else 0
    if isinstance(particle, GroupParticle):
        counts = [_branch_min(item, name) for item in particle.items]
        total = (min(counts) if counts else 0) if particle.kind == "choice" else sum(counts)
        return total * particle.min_occurs
    return 0


class LayoutCache:
    """Layouts per complex type, plus the namespace prefixes used for colliding keys."""

    def __init__(self) -> None:
        self._layouts: dict[int, ComplexLayout] = {}
        self._keep: list[ComplexType] = []
        self.prefixes: dict[str, str] = {}

    def get(self, complex_type: ComplexType) -> ComplexLayout:
        layout = self._layouts.get(id(complex_type))
        if layout is None:
            layout = layout_of(complex_type, self.prefixes)
            self._layouts[id(complex_type)] = layout
            self._keep.append(complex_type)  # ids stay unique while the type is alive
        return layout


def layout_of(complex_type: ComplexType, prefixes: dict[str, str] | None = None) -> ComplexLayout:
    builder = _Builder(prefixes if prefixes is not None else {})
    if complex_type.content is not None:
        builder.walk(complex_type.content, 1, 1)
    slots: list[Slot] = []
    by_name: dict[str, Slot] = {}
    used: dict[str, str] = {}  # key -> XML name
    for name, occurrence in builder.occurrences.items():
        key = local_name(name)
        if key in used and used[key] != name:
            key = f"{builder.prefix(namespace_of(name))}:{key}"
        used[key] = name
        slot = Slot(key, occurrence.element, occurrence.min_occurs, occurrence.max_occurs)
        slots.append(slot)
        by_name[name] = slot
    attributes: dict[str, tuple[str, AttributeUse]] = {}
    attr_keys: set[str] = set()
    for name, use in complex_type.attributes.items():
        key = "@" + local_name(name)
        if key in attr_keys:
            key = f"@{builder.prefix(namespace_of(name))}:{local_name(name)}"
        attr_keys.add(key)
        attributes[name] = (key, use)
    wildcard = None
    if builder.wildcards:
        first = builder.wildcards[0][0]
        namespaces = {w.namespaces for w, _ in builder.wildcards}
        wildcard = WildcardSlot(
            "##any" if len(namespaces) > 1 else first.namespaces,
            first.process_contents,
            array=any(m is None or m > 1 for _, m in builder.wildcards),
        )
    # A choice constrains its keys only when no other particle contributes to them.
    exclusive = [
        c
        for c in builder.choices
        if all(builder.contributions.get(n, 0) == 1 for branch in c.branches for n in branch)
    ]
    choices = [
        ChoiceConstraint(
            tuple(tuple(by_name[n].key for n in branch) for branch in c.branches),
            tuple(tuple(by_name[n].key for n in branch) for branch in c.required_in_branch),
            c.required,
        )
        for c in exclusive
    ]
    any_of = [tuple(by_name[n].key for n in group) for group in builder.any_of]
    shared = [
        (tuple(dict.fromkeys(by_name[n].key for n in names)), limit)
        for names, limit in builder.shared
    ]
    return ComplexLayout(
        complex_type,
        attributes,
        slots,
        by_name,
        wildcard,
        complex_type.simple_content,
        complex_type.mixed and complex_type.simple_content is None,
        choices,
        any_of,
        shared,
    )
