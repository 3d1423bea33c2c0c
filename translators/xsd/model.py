"""The compiled XSD component model the JSON Schema generator and the converter share.

Components form a graph (types can be recursive), so they are built in two steps by the
compiler: created empty, registered, then filled. After compilation they are never changed;
treat them as read-only. Names are Clark notation (see :mod:`translators.xml.names`); an
element's ``name`` is exactly the tag it has in XML (qualified or not per its form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from translators.xsd.builtins import BUILTINS, Builtin, WhiteSpace

Variety = Literal["atomic", "list", "union"]
GroupKind = Literal["sequence", "choice", "all"]
ProcessContents = Literal["strict", "lax", "skip"]
UNBOUNDED = None


@dataclass(frozen=True)
class Facets:
    """Constraining facets, accumulated over the derivation chain."""

    enumeration: tuple[str, ...] | None = None
    # One tuple per derivation step; a value must match one pattern of every step.
    patterns: tuple[tuple[str, ...], ...] = ()
    min_inclusive: str | None = None
    max_inclusive: str | None = None
    min_exclusive: str | None = None
    max_exclusive: str | None = None
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    total_digits: int | None = None
    fraction_digits: int | None = None
    whitespace: WhiteSpace | None = None


class SimpleType:
    """An atomic, list or union simple type (a built-in or a derived one)."""

    __slots__ = ("base", "builtin", "facets", "item", "members", "name", "variety")

    def __init__(self, name: str | None, builtin: Builtin) -> None:
        self.name = name
        self.builtin = builtin  # the most derived built-in ancestor (atomic types)
        self.variety: Variety = "atomic"
        self.facets = Facets()
        self.item: SimpleType | None = None
        self.members: tuple[SimpleType, ...] = ()
        self.base: SimpleType | None = None

    @property
    def whitespace(self) -> WhiteSpace:
        if self.variety != "atomic":
            return "collapse"
        return self.facets.whitespace or self.builtin.whitespace

    def __repr__(self) -> str:
        return f"SimpleType({self.name or 'anonymous'}, {self.variety}, {self.builtin.name})"


def builtin_type(name: str) -> SimpleType:
    """A fresh SimpleType for a built-in (the compiler caches one per name)."""
    builtin = BUILTINS[name]
    simple = SimpleType(f"{{http://www.w3.org/2001/XMLSchema}}{name}", builtin)
    if builtin.list_of is not None:
        simple.variety = "list"
        simple.item = builtin_type(builtin.list_of)
    return simple


@dataclass(eq=False)
class AttributeUse:
    name: str  # Clark name as it appears on the XML element
    type: SimpleType
    required: bool = False
    default: str | None = None
    fixed: str | None = None


@dataclass(eq=False)
class ElementDecl:
    name: str  # Clark name as it appears in XML
    type: SimpleType | ComplexType
    nillable: bool = False
    abstract: bool = False
    default: str | None = None
    fixed: str | None = None
    is_global: bool = False
    # Global elements that may appear instead of this one (its substitution group).
    substitutes: list[ElementDecl] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"ElementDecl({self.name})"


@dataclass(eq=False)
class Particle:
    min_occurs: int
    max_occurs: int | None  # None means unbounded


@dataclass(eq=False)
class ElementParticle(Particle):
    element: ElementDecl


@dataclass(eq=False)
class GroupParticle(Particle):
    kind: GroupKind
    items: list[Particle] = field(default_factory=list)


@dataclass(eq=False)
class WildcardParticle(Particle):
    # "##any", "##other:<tns>", or a space-separated list of namespaces ("" = no namespace).
    namespaces: str = "##any"
    process_contents: ProcessContents = "strict"


@dataclass(eq=False)
class SoapArray:
    """A SOAP-encoded array: the item type and the number of nested array levels."""

    item: SimpleType | ComplexType
    dimensions: int = 1
    item_name: str | None = None  # a declared item element name, when the schema gives one


class ComplexType:
    __slots__ = (
        "abstract",
        "any_attribute",
        "array",
        "attributes",
        "base",
        "content",
        "derivation",
        "derived",
        "is_any",
        "mixed",
        "name",
        "simple_content",
    )

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.base: ComplexType | SimpleType | None = None
        self.derivation: Literal["extension", "restriction"] | None = None
        self.abstract = False
        self.mixed = False
        self.attributes: dict[str, AttributeUse] = {}
        self.any_attribute = False
        self.simple_content: SimpleType | None = None
        self.content: GroupParticle | None = None
        self.array: SoapArray | None = None
        self.is_any = False  # xs:anyType: any attributes, any content
        # Named complex types derived from this one (filled once the schema set is built),
        # for xsi:type polymorphism.
        self.derived: list[ComplexType] = []

    def __repr__(self) -> str:
        return f"ComplexType({self.name or 'anonymous'})"


def any_type() -> ComplexType:
    t = ComplexType("{http://www.w3.org/2001/XMLSchema}anyType")
    t.is_any = True
    t.any_attribute = True
    t.mixed = True
    return t


XsdType = SimpleType | ComplexType
