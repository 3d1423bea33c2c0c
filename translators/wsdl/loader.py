"""Load a WSDL (1.1 or 2.0) or a bare XSD with every document it imports.

Every document is read through the :class:`~translators.wsdl.resolver.DocumentResolver`
(local, uploaded, bundled or allow-listed only) and parsed by the one hardened parser.
Imports are followed breadth first, each document once, at most ``max_documents`` in all.
What cannot be read is recorded as a finding and loading carries on: an import that is not
there costs the types it would have defined, not the whole WSDL.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from rag.errors import WsdlError
from translators.wsdl.model import WsdlDescription
from translators.wsdl.reader import WsdlDocument, read_wsdl11, read_wsdl20
from translators.wsdl.resolver import DocumentResolver, Fetched, ResolveRefused
from translators.xml.names import WSDL11, WSDL20, XSD, local_name
from translators.xml.parser import XmlLimits, parse_xml
from translators.xsd.builtins import XSD_ALIASES
from translators.xsd.compiler import SchemaDocument, SchemaSet
from translators.xsd.problems import Problem, ProblemLog

logger = logging.getLogger(__name__)

__all__ = ["LoadedWsdl", "load_wsdl"]


@dataclass
class LoadedWsdl:
    description: WsdlDescription
    schemas: SchemaSet
    log: ProblemLog
    fingerprint: str  # sha256 over every loaded document, in load order
    locations: tuple[str, ...]
    kind: Literal["wsdl", "xsd"] = "wsdl"

    @property
    def problems(self) -> list[Problem]:
        return list(self.log.items)


@dataclass
class _Loader:
    resolver: DocumentResolver
    limits: XmlLimits
    max_documents: int
    log: ProblemLog = field(default_factory=ProblemLog)
    wsdl_docs: list[WsdlDocument] = field(default_factory=list)
    schema_docs: list[SchemaDocument] = field(default_factory=list)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    seen: set[tuple[str, str | None]] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)
    wanted_namespaces: dict[str, str] = field(default_factory=dict)  # namespace -> importer

    def read(self, fetched: Fetched, what: str) -> etree._Element:
        if len(self.locations) >= self.max_documents:
            raise WsdlError(
                f"the WSDL pulls in more than {self.max_documents} documents",
                construct="imports",
                location=fetched.location,
            )
        root = parse_xml(fetched.data, self.limits, what=what)
        self.locations.append(fetched.location)
        self.digest.update(hashlib.sha256(fetched.data).digest())
        return root

    # -- WSDL documents ------------------------------------------------------------------
    def add_wsdl(self, root: etree._Element, location: str) -> None:
        document = WsdlDocument(root, location)
        self.wsdl_docs.append(document)
        wsdl_ns = root.tag[1:].partition("}")[0]
        for child in root:
            if not isinstance(child.tag, str):
                continue
            tag = local_name(child.tag)
            if child.tag in (f"{{{wsdl_ns}}}import", f"{{{wsdl_ns}}}include"):
                self.wsdl_import(child, location)
            elif tag == "types":
                for index, schema in enumerate(child):
                    if _is_schema(schema):
                        self.add_schema(schema, f"{location}#types[{index}]", None, base=location)

    def wsdl_import(self, node: etree._Element, base: str) -> None:
        target = node.get("location", "").strip()
        if not target:
            self.log.warn("wsdl:import", "import without a location; ignored", base)
            return
        try:
            fetched = self.resolver.fetch(target, base)
        except ResolveRefused as exc:
            self.log.error("wsdl:import", f"{target}: {exc.reason}", base)
            return
        key = (fetched.location, None)
        if key in self.seen:
            return
        self.seen.add(key)
        root = self.read(fetched, "imported WSDL")
        if root.tag in (f"{{{WSDL11}}}definitions", f"{{{WSDL20}}}description"):
            self.add_wsdl(root, fetched.location)
        elif _is_schema(root):
            self.add_schema(root, fetched.location, None, base=fetched.location)
        else:
            self.log.warn("wsdl:import", f"{target} is neither a WSDL nor a schema; ignored", base)

    # -- schema documents ----------------------------------------------------------------
    def add_schema(
        self,
        root: etree._Element,
        location: str,
        chameleon_namespace: str | None,
        *,
        base: str,
    ) -> None:
        own = root.get("targetNamespace")
        tns = own.strip() if own is not None else (chameleon_namespace or "")
        self.schema_docs.append(SchemaDocument(root, location, tns))
        for child in root:
            if not isinstance(child.tag, str) or child.tag[1:].partition("}")[0] not in XSD_ALIASES:
                continue
            tag = local_name(child.tag)
            if tag == "import":
                self.schema_import(child, base, location)
            elif tag in ("include", "redefine", "override"):
                self.schema_include(child, base, location, tns)

    def schema_import(self, node: etree._Element, base: str, location: str) -> None:
        namespace = node.get("namespace")
        namespace = namespace.strip() if namespace is not None else None
        if namespace in XSD_ALIASES:
            return  # the XSD built-ins are built in
        target = node.get("schemaLocation", "").strip()
        fetched: Fetched | None = None
        reason = "no schemaLocation"
        if target:
            try:
                fetched = self.resolver.fetch(target, base)
            except ResolveRefused as exc:
                reason = f"{target}: {exc.reason}"
        if fetched is None and namespace:
            fetched = self.resolver.fetch_namespace(namespace)
        if fetched is None:
            if namespace:
                self.wanted_namespaces.setdefault(namespace, f"{reason} ({location})")
            elif target:
                self.log.warn("xs:import", reason, location)
            return
        key = (fetched.location, None)
        if key in self.seen:
            return
        self.seen.add(key)
        try:
            root = self.read(fetched, "imported schema")
        except WsdlError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad import costs its types, not the WSDL
            self.log.error("xs:import", f"{fetched.location}: {_reason(exc)}", location)
            return
        if not _is_schema(root):
            self.log.error("xs:import", f"{fetched.location} is not an XML schema", location)
            return
        own = root.get("targetNamespace")
        if namespace is not None and (own or "").strip() != namespace:
            self.log.warn(
                "xs:import",
                f"namespace {namespace!r} does not match the imported schema's targetNamespace "
                f"{(own or '').strip()!r}; the schema's own namespace is used"
                if own is not None
                else f"imported schema has no targetNamespace; {namespace!r} is used",
                location,
            )
        self.add_schema(
            root, fetched.location, namespace if own is None else None, base=fetched.location
        )

    def schema_include(self, node: etree._Element, base: str, location: str, tns: str) -> None:
        target = node.get("schemaLocation", "").strip()
        if not target:
            self.log.warn(f"xs:{local_name(node.tag)}", "no schemaLocation; ignored", location)
            return
        try:
            fetched = self.resolver.fetch(target, base)
        except ResolveRefused as exc:
            self.log.error(f"xs:{local_name(node.tag)}", f"{target}: {exc.reason}", location)
            return
        key = (fetched.location, tns)
        if key in self.seen:
            return
        self.seen.add(key)
        try:
            root = self.read(fetched, "included schema")
        except WsdlError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.log.error("xs:include", f"{fetched.location}: {_reason(exc)}", location)
            return
        if not _is_schema(root):
            self.log.error("xs:include", f"{fetched.location} is not an XML schema", location)
            return
        own = root.get("targetNamespace")
        if own is not None and own.strip() != tns:
            self.log.warn(
                "xs:include",
                f"included schema has targetNamespace {own.strip()!r}, not {tns!r}; kept as is",
                location,
            )
        self.add_schema(root, fetched.location, tns, base=fetched.location)

    def check_wanted(self) -> None:
        present = {d.target_namespace for d in self.schema_docs}
        for namespace, why in self.wanted_namespaces.items():
            if namespace not in present:
                self.log.warn(
                    "xs:import",
                    f"no schema found for namespace {namespace!r} ({why}); "
                    "references into it cannot be resolved",
                )


def load_wsdl(
    location: str,
    resolver: DocumentResolver,
    limits: XmlLimits | None = None,
    *,
    max_documents: int = 500,
) -> LoadedWsdl:
    """Load the WSDL (or XSD) at ``location`` and everything it imports."""
    limits = limits or XmlLimits(max_bytes=resolver.max_bytes)
    loader = _Loader(resolver, limits, max_documents)
    try:
        fetched = resolver.fetch(location)
    except ResolveRefused as exc:
        raise WsdlError(
            f"cannot read the WSDL: {exc.reason}", construct="location", location=location
        ) from None
    loader.seen.add((fetched.location, None))
    root = loader.read(fetched, "WSDL")
    kind: Literal["wsdl", "xsd"] = "wsdl"
    if root.tag == "definitions":
        _adopt_unqualified_wsdl(root, loader.log, fetched.location)
    if root.tag in (f"{{{WSDL11}}}definitions", f"{{{WSDL20}}}description"):
        loader.add_wsdl(root, fetched.location)
    elif _is_schema(root):
        kind = "xsd"
        loader.add_schema(root, fetched.location, None, base=fetched.location)
    else:
        raise WsdlError(
            f"not a WSDL or XML schema: the root element is {root.tag}",
            construct="root element",
            location=fetched.location,
        )
    loader.check_wanted()
    schemas = SchemaSet(loader.schema_docs, loader.log)
    if kind == "xsd":
        description = WsdlDescription(fetched.location, "1.1", root.get("targetNamespace", ""), ())
    elif root.tag == f"{{{WSDL20}}}description":
        description = read_wsdl20(loader.wsdl_docs, loader.log)
    else:
        description = read_wsdl11(loader.wsdl_docs, loader.log)
    return LoadedWsdl(
        description,
        schemas,
        loader.log,
        loader.digest.hexdigest(),
        tuple(loader.locations),
        kind,
    )


def _adopt_unqualified_wsdl(root: etree._Element, log: ProblemLog, location: str) -> None:
    """A WSDL 1.1 written without its namespace: read its WSDL elements as if qualified."""
    log.warn("wsdl:definitions", "the WSDL elements have no namespace; read as WSDL 1.1", location)
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node.tag, str) and not node.tag.startswith("{"):
            node.tag = f"{{{WSDL11}}}{node.tag}"
            stack.extend(child for child in node if not _is_schema(child))


def _is_schema(node: etree._Element) -> bool:
    tag = node.tag
    return (
        isinstance(tag, str)
        and tag.startswith("{")
        and tag.endswith("}schema")
        and tag[1:].partition("}")[0] in (XSD_ALIASES | {XSD})
    )


def _reason(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else f"{type(exc).__name__}: {exc}"
