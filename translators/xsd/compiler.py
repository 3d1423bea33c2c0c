"""Compile XSD schema documents into the component model of :mod:`translators.xsd.model`.

Components are compiled on first use (a 4 MB WSDL with thousands of types only pays for what
its operations reach) and memoised, so recursive types become cyclic graphs, not infinite
recursion. The compiler is lenient where real schemas are sloppy, and says so:

- a reference whose namespace is wrong but whose local name is unique in the schema set is
  resolved to that component (warning);
- the 1999/2000 XSD namespaces and SOAP-encoding copies of built-in types (``soapenc:string``)
  mean the XSD built-ins;
- an unresolvable reference becomes ``xs:anyType`` / ``xs:anySimpleType`` (error: that part of
  the schema is permissive);
- XSD 1.1-only constructs and ``xs:redefine`` are named in warnings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from lxml import etree

from translators.xml.names import SOAP_ENCODINGS, XSD, clark, local_name, resolve_prefixed
from translators.xsd.builtins import BUILTINS, XSD_ALIASES
from translators.xsd.model import (
    AttributeUse,
    ComplexType,
    ElementDecl,
    ElementParticle,
    Facets,
    GroupKind,
    GroupParticle,
    Particle,
    SimpleType,
    SoapArray,
    WildcardParticle,
    XsdType,
    any_type,
    builtin_type,
)
from translators.xsd.problems import ProblemLog

logger = logging.getLogger(__name__)

__all__ = ["SchemaDocument", "SchemaSet"]

_KINDS = ("element", "complexType", "simpleType", "attribute", "group", "attributeGroup")
_XSD11_ONLY = frozenset({"assert", "assertion", "alternative", "openContent", "defaultOpenContent"})
_IGNORED = frozenset({"annotation", "key", "keyref", "unique", "notation", "import", "include"})


def _x(local: str) -> str:
    return f"{{{XSD}}}{local}"


@dataclass(frozen=True)
class SchemaDocument:
    """One ``xs:schema`` element and where it came from.

    ``target_namespace`` is the effective one: a schema without one that is included into
    another takes the includer's ("chameleon" include).
    """

    root: etree._Element
    location: str
    target_namespace: str

    @property
    def element_form_qualified(self) -> bool:
        return bool(self.root.get("elementFormDefault") == "qualified")

    @property
    def attribute_form_qualified(self) -> bool:
        return bool(self.root.get("attributeFormDefault") == "qualified")


_Entry = tuple[etree._Element, SchemaDocument]


class SchemaSet:
    """All global components of a set of schema documents, compiled on demand."""

    def __init__(self, documents: Sequence[SchemaDocument], problems: ProblemLog) -> None:
        self.documents = list(documents)
        self.problems = problems
        self._globals: dict[str, dict[str, _Entry]] = {kind: {} for kind in _KINDS}
        self._by_local: dict[str, dict[str, list[str]]] = {kind: {} for kind in _KINDS}
        self._substitution_members: dict[str, list[str]] = {}
        self._derived_names: dict[str, list[str]] = {}
        self._types: dict[str, XsdType] = {}
        self._elements: dict[str, ElementDecl] = {}
        self._local_elements: dict[etree._Element, ElementDecl] = {}
        self._anonymous: dict[etree._Element, XsdType] = {}
        self._attributes: dict[str, AttributeUse] = {}
        self._builtins: dict[str, SimpleType] = {}
        self._group_stack: list[str] = []
        self._attribute_group_stack: list[str] = []
        self.any_type = any_type()
        self.lock = threading.RLock()  # held while compiling
        for document in self.documents:
            self._index(document)

    # -- indexing ------------------------------------------------------------------------
    def _index(self, document: SchemaDocument) -> None:
        tns = document.target_namespace
        for node in _children(document.root):
            tag = local_name(node.tag)
            if tag == "redefine" or tag == "override":
                self.problems.warn(
                    f"xs:{tag}",
                    "treated as an include whose components replace the originals",
                    document.location,
                )
                for inner in _children(node):
                    self._register(local_name(inner.tag), inner, document, tns, replace_=True)
                continue
            if tag in _XSD11_ONLY:
                self.problems.warn(f"xs:{tag}", "XSD 1.1 construct ignored", document.location)
                continue
            self._register(tag, node, document, tns)

    def _register(
        self,
        tag: str,
        node: etree._Element,
        document: SchemaDocument,
        tns: str,
        *,
        replace_: bool = False,
    ) -> None:
        if tag not in self._globals or node.get("name") is None:
            return
        name = clark(tns, node.get("name", "").strip())
        table = self._globals[tag]
        if name in table and not replace_:
            return  # the same document reached twice, or a harmless duplicate
        table[name] = (node, document)
        self._by_local[tag].setdefault(local_name(name), []).append(name)
        if tag == "element" and node.get("substitutionGroup"):
            for head_ref in node.get("substitutionGroup", "").split():
                head = self._qname(head_ref, node, document, "substitutionGroup")
                if head is not None:
                    self._substitution_members.setdefault(head, []).append(name)
        if tag == "complexType":
            for derivation in node.iterchildren(_x("complexContent"), _x("simpleContent")):
                for step in derivation.iterchildren(_x("extension"), _x("restriction")):
                    base = self._qname(step.get("base", ""), step, document, "base")
                    if base is not None:
                        self._derived_names.setdefault(base, []).append(name)

    # -- public lookups ------------------------------------------------------------------
    def element(self, name: str) -> ElementDecl | None:
        """A global element declaration, or None."""
        with self.lock:
            return self._element(name)

    def _element(self, name: str) -> ElementDecl | None:
        decl = self._elements.get(name)
        if decl is not None:
            return decl
        entry = self._lookup("element", name, quiet=True)
        if entry is None:
            return None
        return self._global_element(entry[0], entry[1])

    def type(self, name: str) -> XsdType | None:
        """A named type (built-ins included), or None."""
        # Components are registered before they are filled (that is how recursion works), so
        # concurrent lookups wait until a compilation in progress is complete.
        with self.lock:
            return self._resolve_type(name, location="", quiet=True)

    def has_namespace(self, namespace: str) -> bool:
        return any(d.target_namespace == namespace for d in self.documents)

    def global_element_names(self) -> Iterator[str]:
        return iter(self._globals["element"])

    def type_names(self, local: str) -> list[str]:
        """Clark names of the named complex and simple types with this local name."""
        return [
            *self._by_local["complexType"].get(local, ()),
            *self._by_local["simpleType"].get(local, ()),
        ]

    def is_derived(self, candidate: XsdType, ancestor: XsdType) -> bool:
        current: XsdType | None = candidate
        seen = 0
        while current is not None and seen < 256:
            if current is ancestor:
                return True
            current = current.base
            seen += 1
        return ancestor is self.any_type

    # -- names ---------------------------------------------------------------------------
    def _qname(
        self, value: str, node: etree._Element, document: SchemaDocument, what: str
    ) -> str | None:
        if not value.strip():
            return None
        name = resolve_prefixed(value, dict(node.nsmap))
        if name is None:
            self.problems.error(
                what, f"undeclared namespace prefix in {value.strip()!r}", document.location
            )
        return name

    def _lookup(
        self, kind: str, name: str, *, location: str = "", quiet: bool = False
    ) -> _Entry | None:
        table = self._globals[kind]
        entry = table.get(name)
        if entry is not None:
            return entry
        candidates = self._by_local[kind].get(local_name(name), [])
        if len(candidates) == 1:
            if not quiet:
                self.problems.warn(
                    f"{kind} reference",
                    f"{name} not found; using {candidates[0]} (same local name, other namespace)",
                    location,
                )
            return table[candidates[0]]
        return None

    # -- types ---------------------------------------------------------------------------
    def builtin(self, local: str) -> SimpleType:
        simple = self._builtins.get(local)
        if simple is None:
            simple = builtin_type(local)
            self._builtins[local] = simple
        return simple

    def _resolve_type(self, name: str, *, location: str, quiet: bool = False) -> XsdType | None:
        cached = self._types.get(name)
        if cached is not None:
            return cached
        namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
        if namespace in XSD_ALIASES:
            if local == "anyType":
                return self.any_type
            if local in BUILTINS:
                return self.builtin(local)
        # soapenc:string & co. are the XSD built-ins plus encoding attributes (id, href) that
        # the encoding layer handles; soapenc:Array is an array of anything.
        if namespace in SOAP_ENCODINGS and local in BUILTINS:
            return self.builtin(local)
        if namespace in SOAP_ENCODINGS and local == "Array":
            array = ComplexType(name)
            array.array = SoapArray(self.any_type)
            self._types[name] = array
            return array
        if namespace in SOAP_ENCODINGS and local == "Struct":
            return self.any_type
        entry = self._lookup("complexType", name, location=location, quiet=quiet)
        if entry is not None:
            return self._complex_type(entry[0], entry[1], named=True)
        entry = self._lookup("simpleType", name, location=location, quiet=quiet)
        if entry is not None:
            return self._simple_type(entry[0], entry[1], named=True)
        if namespace in SOAP_ENCODINGS:
            return self.any_type
        return None

    def _type_ref(
        self, value: str, node: etree._Element, document: SchemaDocument, *, simple: bool = False
    ) -> XsdType:
        name = self._qname(value, node, document, "type reference")
        resolved = None if name is None else self._resolve_type(name, location=document.location)
        if resolved is None:
            self.problems.error(
                "type reference",
                f"type {value.strip()!r} not found; that part of the schema accepts anything",
                document.location,
            )
            return self.builtin("anySimpleType") if simple else self.any_type
        return resolved

    def _simple_ref(self, value: str, node: etree._Element, document: SchemaDocument) -> SimpleType:
        resolved = self._type_ref(value, node, document, simple=True)
        if isinstance(resolved, SimpleType):
            return resolved
        if resolved.simple_content is not None:
            return resolved.simple_content
        if not resolved.is_any:
            self.problems.warn(
                "simple type reference",
                f"{value.strip()!r} is a complex type used as a simple type; read as text",
                document.location,
            )
        return self.builtin("anySimpleType")

    # -- simple types --------------------------------------------------------------------
    def _simple_type(
        self, node: etree._Element, document: SchemaDocument, *, named: bool
    ) -> SimpleType:
        key_name = clark(document.target_namespace, node.get("name", "")) if named else None
        if key_name is not None and key_name in self._types:
            cached = self._types[key_name]
            assert isinstance(cached, SimpleType)
            return cached
        if not named and node in self._anonymous:
            anon = self._anonymous[node]
            assert isinstance(anon, SimpleType)
            return anon
        simple = SimpleType(key_name, BUILTINS["anySimpleType"])
        if key_name is not None:
            self._types[key_name] = simple
        else:
            self._anonymous[node] = simple
        self._fill_simple(simple, node, document)
        return simple

    def _fill_simple(
        self, simple: SimpleType, node: etree._Element, document: SchemaDocument
    ) -> None:
        for child in _children(node):
            tag = local_name(child.tag)
            if tag == "restriction":
                base = self._restriction_base(child, document)
                simple.base = base
                simple.variety = base.variety
                simple.builtin = base.builtin
                simple.item = base.item
                simple.members = base.members
                simple.facets = _merge_facets(base.facets, child, self.problems, document)
                return
            if tag == "list":
                simple.variety = "list"
                item_ref = child.get("itemType")
                inline = child.find(_x("simpleType"))
                if item_ref:
                    simple.item = self._simple_ref(item_ref, child, document)
                elif inline is not None:
                    simple.item = self._simple_type(inline, document, named=False)
                else:
                    simple.item = self.builtin("anySimpleType")
                return
            if tag == "union":
                simple.variety = "union"
                members = [
                    self._simple_ref(ref, child, document)
                    for ref in child.get("memberTypes", "").split()
                ]
                members += [
                    self._simple_type(inline, document, named=False)
                    for inline in child.iterchildren(_x("simpleType"))
                ]
                simple.members = tuple(members) or (self.builtin("anySimpleType"),)
                return
        self.problems.warn(
            "xs:simpleType", "no restriction, list or union; read as text", document.location
        )

    def _restriction_base(self, node: etree._Element, document: SchemaDocument) -> SimpleType:
        base_ref = node.get("base")
        inline = node.find(_x("simpleType"))
        if base_ref:
            return self._simple_ref(base_ref, node, document)
        if inline is not None:
            return self._simple_type(inline, document, named=False)
        return self.builtin("anySimpleType")

    # -- complex types -------------------------------------------------------------------
    def _complex_type(
        self, node: etree._Element, document: SchemaDocument, *, named: bool
    ) -> ComplexType:
        key_name = clark(document.target_namespace, node.get("name", "")) if named else None
        if key_name is not None:
            cached = self._types.get(key_name)
            if cached is not None:
                assert isinstance(cached, ComplexType)
                return cached
        elif node in self._anonymous:
            anon = self._anonymous[node]
            assert isinstance(anon, ComplexType)
            return anon
        complex_type = ComplexType(key_name)
        if key_name is not None:
            self._types[key_name] = complex_type
        else:
            self._anonymous[node] = complex_type
        self._fill_complex(complex_type, node, document)
        if key_name is not None:
            complex_type.derived = [
                derived
                for derived_name in self._derived_names.get(key_name, [])
                if isinstance(
                    derived := self._resolve_type(derived_name, location="", quiet=True),
                    ComplexType,
                )
                and derived is not complex_type
            ]
        return complex_type

    def _fill_complex(
        self, ct: ComplexType, node: etree._Element, document: SchemaDocument
    ) -> None:
        ct.abstract = node.get("abstract") in ("true", "1")
        ct.mixed = node.get("mixed") in ("true", "1")
        for child in _children(node):
            tag = local_name(child.tag)
            if tag == "simpleContent":
                self._fill_simple_content(ct, child, document)
                return
            if tag == "complexContent":
                if child.get("mixed") is not None:
                    ct.mixed = child.get("mixed") in ("true", "1")
                self._fill_complex_content(ct, child, document)
                return
        ct.content = self._content_particle(node, document)
        self._fill_attributes(ct, node, document)

    def _fill_simple_content(
        self, ct: ComplexType, node: etree._Element, document: SchemaDocument
    ) -> None:
        step = next(node.iterchildren(_x("extension"), _x("restriction")), None)
        if step is None:
            ct.simple_content = self.builtin("anySimpleType")
            return
        base = (
            self._type_ref(step.get("base", ""), step, document, simple=False)
            if step.get("base")
            else self.builtin("anySimpleType")
        )
        ct.base = base
        ct.derivation = "extension" if local_name(step.tag) == "extension" else "restriction"
        if isinstance(base, ComplexType):
            ct.attributes = dict(base.attributes)
            ct.any_attribute = base.any_attribute
            content = base.simple_content or self.builtin("anySimpleType")
        else:
            content = base
        if ct.derivation == "restriction":
            inline = step.find(_x("simpleType"))
            if inline is not None:
                content = self._simple_type(inline, document, named=False)
            restricted = SimpleType(None, content.builtin)
            restricted.base = content
            restricted.variety = content.variety
            restricted.item = content.item
            restricted.members = content.members
            restricted.facets = _merge_facets(content.facets, step, self.problems, document)
            content = restricted
        ct.simple_content = content
        self._fill_attributes(ct, step, document)

    def _fill_complex_content(
        self, ct: ComplexType, node: etree._Element, document: SchemaDocument
    ) -> None:
        step = next(node.iterchildren(_x("extension"), _x("restriction")), None)
        if step is None:
            self.problems.warn(
                "xs:complexContent", "no extension or restriction", document.location
            )
            return
        base = self._type_ref(step.get("base", ""), step, document)
        ct.base = base
        ct.derivation = "extension" if local_name(step.tag) == "extension" else "restriction"
        own = self._content_particle(step, document)
        if isinstance(base, ComplexType) and (base.array is not None or self._is_soap_array(step)):
            ct.array = self._soap_array(step, document, own, base)
            self._fill_attributes(ct, step, document)
            return
        if isinstance(base, SimpleType):
            self.problems.warn(
                "xs:complexContent",
                "base is a simple type; read as simple content",
                document.location,
            )
            ct.simple_content = base
            self._fill_attributes(ct, step, document)
            return
        if base.is_any and ct.derivation == "restriction" and own is None:
            ct.content = None
        elif ct.derivation == "extension" and not base.is_any:
            ct.attributes = dict(base.attributes)
            ct.any_attribute = base.any_attribute
            ct.mixed = ct.mixed or base.mixed
            ct.simple_content = base.simple_content
            parts = [p for p in (base.content, own) if p is not None]
            if len(parts) == 1:
                ct.content = parts[0]
            elif parts:
                ct.content = GroupParticle(1, 1, "sequence", list(parts))
        else:
            ct.content = own
            if not base.is_any:
                ct.attributes = dict(base.attributes)
                ct.any_attribute = base.any_attribute
        self._fill_attributes(ct, step, document)

    def _is_soap_array(self, step: etree._Element) -> bool:
        base = step.get("base", "")
        name = resolve_prefixed(base, dict(step.nsmap))
        return name is not None and name in {f"{{{ns}}}Array" for ns in SOAP_ENCODINGS}

    def _soap_array(
        self,
        step: etree._Element,
        document: SchemaDocument,
        own: GroupParticle | None,
        base: ComplexType,
    ) -> SoapArray:
        for attribute in step.iter(_x("attribute")):
            for attr_name, value in attribute.attrib.items():
                if local_name(attr_name) == "arrayType" and attr_name.startswith("{"):
                    type_part = value.strip().partition("[")[0]
                    item = self._type_ref(type_part, attribute, document)
                    return SoapArray(item, max(1, value.count("[")))
            for attr_name, value in attribute.attrib.items():  # itemType (SOAP 1.2)
                if local_name(attr_name) == "itemType":
                    return SoapArray(self._type_ref(value, attribute, document))
        if own is not None:
            elements = [p for p in _walk_particles(own) if isinstance(p, ElementParticle)]
            if len(elements) == 1:
                return SoapArray(elements[0].element.type, 1, elements[0].element.name)
        if base.array is not None:
            return base.array
        return SoapArray(self.any_type)

    # -- particles -----------------------------------------------------------------------
    def _content_particle(
        self, node: etree._Element, document: SchemaDocument
    ) -> GroupParticle | None:
        for child in _children(node):
            tag = local_name(child.tag)
            if tag in ("sequence", "choice", "all"):
                return self._group(child, document)
            if tag == "group":
                particle = self._group_ref(child, document)
                if particle is None:
                    return None
                return particle
        return None

    def _occurs(self, node: etree._Element, document: SchemaDocument) -> tuple[int, int | None]:
        try:
            minimum = int(node.get("minOccurs", "1"))
            raw_max = node.get("maxOccurs", "1").strip()
            maximum = None if raw_max == "unbounded" else int(raw_max)
        except ValueError:
            self.problems.warn(
                "occurrence", "unreadable minOccurs/maxOccurs; using 1", document.location
            )
            return 1, 1
        return minimum, maximum

    def _group(self, node: etree._Element, document: SchemaDocument) -> GroupParticle:
        minimum, maximum = self._occurs(node, document)
        kind: GroupKind = "choice" if node.tag.endswith("}choice") else "sequence"
        if node.tag.endswith("}all"):
            kind = "all"
        group = GroupParticle(minimum, maximum, kind)
        for child in _children(node):
            particle = self._particle(child, document)
            if particle is not None:
                group.items.append(particle)
        return group

    def _particle(self, node: etree._Element, document: SchemaDocument) -> Particle | None:
        tag = local_name(node.tag)
        if tag == "element":
            minimum, maximum = self._occurs(node, document)
            decl = self._local_or_ref_element(node, document)
            if decl is None:
                return None
            return ElementParticle(minimum, maximum, decl)
        if tag in ("sequence", "choice", "all"):
            return self._group(node, document)
        if tag == "group":
            return self._group_ref(node, document)
        if tag == "any":
            minimum, maximum = self._occurs(node, document)
            process = node.get("processContents", "strict")
            return WildcardParticle(
                minimum,
                maximum,
                _wildcard_namespaces(node.get("namespace", "##any"), document.target_namespace),
                "lax" if process == "lax" else "skip" if process == "skip" else "strict",
            )
        if tag in _XSD11_ONLY:
            self.problems.warn(f"xs:{tag}", "XSD 1.1 construct ignored", document.location)
        elif tag not in _IGNORED:
            self.problems.warn(
                f"xs:{tag}", "unexpected in a content model; ignored", document.location
            )
        return None

    def _group_ref(self, node: etree._Element, document: SchemaDocument) -> GroupParticle | None:
        name = self._qname(node.get("ref", ""), node, document, "group reference")
        if name is None:
            return None
        if name in self._group_stack:
            self.problems.error(
                "xs:group", f"group {name} refers to itself; cycle cut", document.location
            )
            return None
        entry = self._lookup("group", name, location=document.location)
        if entry is None:
            self.problems.error("xs:group", f"group {name} not found; ignored", document.location)
            return None
        group_node, group_doc = entry
        model = next(
            (
                c
                for c in _children(group_node)
                if local_name(c.tag) in ("sequence", "choice", "all")
            ),
            None,
        )
        if model is None:
            return None
        self._group_stack.append(name)
        try:
            inner = self._group(model, group_doc)
        finally:
            self._group_stack.pop()
        minimum, maximum = self._occurs(node, document)
        return replace(inner, min_occurs=minimum, max_occurs=maximum)

    # -- elements ------------------------------------------------------------------------
    def _global_element(self, node: etree._Element, document: SchemaDocument) -> ElementDecl:
        name = clark(document.target_namespace, node.get("name", "").strip())
        decl = self._elements.get(name)
        if decl is not None:
            return decl
        decl = ElementDecl(name, self.any_type, is_global=True)
        self._elements[name] = decl
        self._fill_element(decl, node, document)
        members = self._substitution_members.get(name, [])
        for member_name in members:
            member = self._element(member_name)
            if member is not None and member is not decl:
                decl.substitutes.append(member)
                decl.substitutes.extend(m for m in member.substitutes if m not in decl.substitutes)
        return decl

    def _local_or_ref_element(
        self, node: etree._Element, document: SchemaDocument
    ) -> ElementDecl | None:
        ref = node.get("ref")
        if ref:
            name = self._qname(ref, node, document, "element reference")
            if name is None:
                return None
            if name.startswith("{") and name[1:].partition("}")[0] in XSD_ALIASES:
                # e.g. .NET DataSets: <s:element ref="s:schema"/> embeds a schema document.
                self.problems.warn(
                    "element reference",
                    f"{ref.strip()!r} refers into the XSD namespace; accepted as any content",
                    document.location,
                )
                return ElementDecl(name, self.any_type)
            entry = self._lookup("element", name, location=document.location)
            if entry is None:
                self.problems.error(
                    "element reference",
                    f"element {ref.strip()!r} not found; it is accepted as any content",
                    document.location,
                )
                return ElementDecl(name, self.any_type)
            return self._global_element(entry[0], entry[1])
        cached = self._local_elements.get(node)
        if cached is not None:
            return cached
        raw = node.get("name", "").strip()
        form = node.get("form")
        qualified = form == "qualified" if form else document.element_form_qualified
        decl = ElementDecl(
            clark(document.target_namespace if qualified else None, raw), self.any_type
        )
        self._local_elements[node] = decl
        self._fill_element(decl, node, document)
        return decl

    def _fill_element(
        self, decl: ElementDecl, node: etree._Element, document: SchemaDocument
    ) -> None:
        decl.nillable = node.get("nillable") in ("true", "1")
        decl.abstract = node.get("abstract") in ("true", "1")
        decl.default = node.get("default")
        decl.fixed = node.get("fixed")
        type_ref = node.get("type")
        if type_ref:
            decl.type = self._type_ref(type_ref, node, document)
            return
        for child in _children(node):
            tag = local_name(child.tag)
            if tag == "complexType":
                decl.type = self._complex_type(child, document, named=False)
                return
            if tag == "simpleType":
                decl.type = self._simple_type(child, document, named=False)
                return
        head_ref = node.get("substitutionGroup", "").split()
        if head_ref:
            head_name = self._qname(head_ref[0], node, document, "substitutionGroup")
            entry = None if head_name is None else self._lookup("element", head_name)
            if entry is not None and entry[0] is not node:
                decl.type = self._global_element(entry[0], entry[1]).type
                return
        decl.type = self.any_type

    # -- attributes ----------------------------------------------------------------------
    def _fill_attributes(
        self, ct: ComplexType, node: etree._Element, document: SchemaDocument
    ) -> None:
        for child in _children(node):
            tag = local_name(child.tag)
            if tag == "attribute":
                use = self._attribute(child, document)
                if use is None:
                    continue
                if child.get("use") == "prohibited":
                    ct.attributes.pop(use.name, None)
                else:
                    ct.attributes[use.name] = use
            elif tag == "attributeGroup":
                self._attribute_group(ct, child, document)
            elif tag == "anyAttribute":
                ct.any_attribute = True

    def _attribute(self, node: etree._Element, document: SchemaDocument) -> AttributeUse | None:
        required = node.get("use") == "required"
        ref = node.get("ref")
        if ref:
            name = self._qname(ref, node, document, "attribute reference")
            if name is None:
                return None
            if name.startswith(tuple(f"{{{ns}}}" for ns in SOAP_ENCODINGS)):
                return None  # encoding machinery (arrayType, offset, ...), not data
            entry = self._lookup("attribute", name, location=document.location, quiet=True)
            if entry is None:
                if not name.startswith("{http://www.w3.org/XML/1998/namespace}"):
                    self.problems.warn(
                        "attribute reference",
                        f"attribute {ref.strip()!r} not found; read as text",
                        document.location,
                    )
                return AttributeUse(name, self.builtin("anySimpleType"), required)
            target = self._global_attribute(entry[0], entry[1])
            return replace(
                target,
                required=required,
                default=node.get("default", target.default),
                fixed=node.get("fixed", target.fixed),
            )
        raw = node.get("name", "").strip()
        if not raw:
            return None
        form = node.get("form")
        qualified = form == "qualified" if form else document.attribute_form_qualified
        name = clark(document.target_namespace if qualified else None, raw)
        return AttributeUse(
            name,
            self._attribute_type(node, document),
            required,
            node.get("default"),
            node.get("fixed"),
        )

    def _global_attribute(self, node: etree._Element, document: SchemaDocument) -> AttributeUse:
        name = clark(document.target_namespace, node.get("name", "").strip())
        cached = self._attributes.get(name)
        if cached is None:
            cached = AttributeUse(
                name,
                self._attribute_type(node, document),
                False,
                node.get("default"),
                node.get("fixed"),
            )
            self._attributes[name] = cached
        return cached

    def _attribute_type(self, node: etree._Element, document: SchemaDocument) -> SimpleType:
        type_ref = node.get("type")
        if type_ref:
            return self._simple_ref(type_ref, node, document)
        inline = node.find(_x("simpleType"))
        if inline is not None:
            return self._simple_type(inline, document, named=False)
        return self.builtin("anySimpleType")

    def _attribute_group(
        self, ct: ComplexType, node: etree._Element, document: SchemaDocument
    ) -> None:
        name = self._qname(node.get("ref", ""), node, document, "attributeGroup reference")
        if name is None or name in self._attribute_group_stack:
            return
        entry = self._lookup("attributeGroup", name, location=document.location)
        if entry is None:
            self.problems.error(
                "xs:attributeGroup", f"attribute group {name} not found; ignored", document.location
            )
            return
        self._attribute_group_stack.append(name)
        try:
            self._fill_attributes(ct, entry[0], entry[1])
        finally:
            self._attribute_group_stack.pop()


# -- helpers -----------------------------------------------------------------------------
def _children(node: etree._Element) -> Iterator[etree._Element]:
    """XSD children of a schema node (annotations and foreign elements skipped)."""
    for child in node:
        tag = child.tag
        if (
            isinstance(tag, str)
            and tag.startswith("{")
            and tag[1:].partition("}")[0] in XSD_ALIASES
        ) and not tag.endswith("}annotation"):
            yield child


def _walk_particles(particle: Particle) -> Iterable[Particle]:
    yield particle
    if isinstance(particle, GroupParticle):
        for item in particle.items:
            yield from _walk_particles(item)


def _merge_facets(
    base: Facets, node: etree._Element, problems: ProblemLog, document: SchemaDocument
) -> Facets:
    enumeration: list[str] = []
    patterns: list[str] = []
    changes: dict[str, object] = {}
    for child in _children(node):
        tag = local_name(child.tag)
        value = child.get("value")
        if value is None:
            continue
        if tag == "enumeration":
            enumeration.append(value)
        elif tag == "pattern":
            patterns.append(value)
        elif tag in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            changes[_snake(tag)] = value.strip()
        elif tag in ("length", "minLength", "maxLength", "totalDigits", "fractionDigits"):
            try:
                changes[_snake(tag)] = int(value.strip())
            except ValueError:
                problems.warn(
                    f"xs:{tag}", f"unreadable value {value!r}; ignored", document.location
                )
        elif tag == "whiteSpace":
            if value.strip() in ("preserve", "replace", "collapse"):
                changes["whitespace"] = value.strip()
        elif tag in _XSD11_ONLY or tag in ("explicitTimezone",):
            problems.warn(f"xs:{tag}", "XSD 1.1 facet ignored", document.location)
    facets = replace(base, **changes)  # type: ignore[arg-type]
    if enumeration:
        facets = replace(facets, enumeration=tuple(enumeration))
    if patterns:
        facets = replace(facets, patterns=(*base.patterns, tuple(patterns)))
    return facets


def _wildcard_namespaces(value: str, target_namespace: str) -> str:
    """Normalise xs:any/@namespace: "##any", "##other:<tns>", or a list ("" = no namespace)."""
    value = value.strip() or "##any"
    if value == "##any":
        return value
    if value == "##other":
        return f"##other:{target_namespace}"
    names = {"##targetNamespace": target_namespace, "##local": ""}
    return " ".join(names.get(ns, ns) for ns in value.split())


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
