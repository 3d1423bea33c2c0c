"""zeep, loaded the translator's way: the same resolver, the same parser, the same leniency.

``zeep_client(path)`` builds a ``zeep.Client`` whose transport reads every WSDL/XSD through
the :class:`~translators.wsdl.resolver.DocumentResolver` (bundled standard schemas, local
files inside the WSDL's folder, allow-listed remote only) and the hardened parser, with
zeep's own settings locked down (``forbid_dtd``, ``forbid_entities``, no huge trees; see
:func:`zeep_settings` for ``forbid_external``).

The transport also rewrites each document it serves: well-known schema locations point at
the bundled files, and imports that cannot be read lose their ``schemaLocation`` (zeep then
treats them as namespace-only; an include or a ``wsdl:import`` that cannot be read is
dropped) instead of failing the whole WSDL. It also fixes
the commonest sloppiness zeep rejects: an ``xs:import`` whose ``namespace`` differs from the
imported schema's ``targetNamespace``. Every rewrite is logged as a warning.

``harden_zeep()`` routes zeep's own ``parse_xml`` (used for SOAP responses) through the
hardened parser too. The SOAP-to-REST bridge uses this module; the benchmark uses it to time
zeep's parse and ``serialize_object`` on the same bytes as the translator.
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any

from lxml import etree

from rag.errors import MalformedXmlError, PayloadTooLargeError, XmlRejectedError
from translators.wsdl.reader import soap_version as _soap_version
from translators.wsdl.resolver import BUNDLED, DocumentResolver, ResolveRefused
from translators.xml.names import WSDL11, local_name
from translators.xml.parser import XmlLimits, parse_xml
from translators.xsd.builtins import XSD_ALIASES

logger = logging.getLogger(__name__)

__all__ = ["ResolvingTransport", "harden_zeep", "zeep_client", "zeep_settings"]

_PATCHED = threading.Lock()
_patched = False


def zeep_settings(*, forbid_external: bool = False) -> Any:
    """zeep's settings. ``forbid_external`` stays off by default on purpose: zeep itself
    auto-imports the SOAP-encoding schema from its http URL whenever a schema mentions it,
    and ``forbid_external`` refuses that before asking the transport. The resolving transport
    is the gate instead, and it serves nothing but bundled, local and allow-listed documents,
    so no document ever comes from anywhere else either way."""
    zeep: Any = importlib.import_module("zeep")
    return zeep.Settings(
        strict=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=forbid_external,
        xml_huge_tree=False,
    )


def _hardened_parse_xml(
    content: Any, transport: Any, base_url: Any = None, settings: Any = None
) -> etree._Element:
    """zeep's ``parse_xml`` signature, the translator's parser, zeep's exception types."""
    exceptions: Any = importlib.import_module("zeep.exceptions")
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    try:
        return parse_xml(data, XmlLimits(max_bytes=max(len(data), 1)), base_url=base_url)
    except XmlRejectedError as exc:
        if exc.reason == "dtd":
            raise exceptions.DTDForbidden(exc.detail, None, None) from None
        raise exceptions.XMLSyntaxError(exc.detail, content=content) from None
    except (MalformedXmlError, PayloadTooLargeError) as exc:
        raise exceptions.XMLSyntaxError(exc.detail, content=content) from None


def harden_zeep() -> None:
    """Make zeep parse every document and response with the hardened parser (idempotent)."""
    global _patched
    with _PATCHED:
        if _patched:
            return
        for module_name in ("zeep.loader", "zeep.wsdl.bindings.soap"):
            module: Any = importlib.import_module(module_name)
            module.parse_xml = _hardened_parse_xml
        _patched = True


class ResolvingTransport:
    """A zeep transport that serves documents from a resolver, rewritten for zeep."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        zeep: Any = importlib.import_module("zeep")

        class _Transport(zeep.Transport):  # type: ignore[misc]
            def __init__(self, resolver: DocumentResolver, limits: XmlLimits) -> None:
                zeep.Transport.__init__(self)
                self.resolver = resolver
                self.limits = limits
                self.rewrites: list[str] = []

            def load(self, url: str) -> bytes:
                try:
                    fetched = self.resolver.fetch(url)
                except ResolveRefused as exc:
                    exceptions: Any = importlib.import_module("zeep.exceptions")
                    raise exceptions.TransportError(f"{url}: {exc.reason}") from None
                root = parse_xml(fetched.data, self.limits, what="WSDL")
                if self._rewrite(root, fetched.location):
                    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
                return fetched.data

            def _rewrite(self, root: etree._Element, location: str) -> bool:
                changed = self._bind_ports(root)
                for node in list(root.iter()):  # _fix may remove nodes
                    if not isinstance(node.tag, str):
                        continue
                    namespace = node.tag[1:].partition("}")[0] if node.tag.startswith("{") else ""
                    name = local_name(node.tag)
                    if namespace in XSD_ALIASES and name in ("import", "include", "redefine"):
                        changed |= self._fix(node, "schemaLocation", location, name == "import")
                    elif namespace == WSDL11 and name == "import":
                        changed |= self._fix(node, "location", location, False)
                return changed

            def _bind_ports(self, root: etree._Element) -> bool:
                """A port whose binding is not defined binds to the one SOAP binding of its
                SOAP version, as the translator's reader does (zeep would drop the port).
                Only in a WSDL that imports no other: there the bindings are all in view."""
                if (
                    root.tag != f"{{{WSDL11}}}definitions"
                    or root.find(f"{{{WSDL11}}}import") is not None
                ):
                    return False
                tns = root.get("targetNamespace", "")
                bindings = {
                    b.get("name", ""): _soap_version(b, "binding")
                    for b in root.iterchildren(f"{{{WSDL11}}}binding")
                }
                changed = False
                for port in root.iterfind(f"{{{WSDL11}}}service/{{{WSDL11}}}port"):
                    reference = port.get("binding", "")
                    prefix, _, name = reference.rpartition(":")
                    if port.nsmap.get(prefix or None) == tns and name in bindings:
                        continue
                    version = _soap_version(port, "address")
                    soap = [n for n, v in bindings.items() if v and (not version or v == version)]
                    if len(soap) != 1:
                        continue
                    own = next((p for p, ns in port.nsmap.items() if ns == tns and p), None)
                    if own is None:
                        continue  # no prefix for the target namespace: leave it to zeep
                    port.set("binding", f"{own}:{soap[0]}")
                    self._note(f"port {port.get('name')}: binding {reference!r} is not defined; "
                               f"bound to {soap[0]}, the only SOAP binding")  # fmt: skip
                    changed = True
                return changed

            def _fix(
                self, node: etree._Element, attribute: str, base: str, is_import: bool
            ) -> bool:
                target = node.get(attribute)
                changed = False
                if target:
                    try:
                        fetched = self.resolver.fetch(target, base)
                    except ResolveRefused as exc:
                        parent = node.getparent()
                        if is_import or parent is None:
                            del node.attrib[attribute]  # a namespace-only xs:import
                            self._note(f"{target}: {exc.reason}; location dropped")
                        else:  # zeep cannot take an include or wsdl:import without one
                            parent.remove(node)
                            self._note(f"{target}: {exc.reason}; {local_name(node.tag)} dropped")
                        return True
                    local = self._local_path(fetched.location)
                    if local is not None and local != target:
                        node.set(attribute, local)
                        changed = True
                    if is_import:
                        changed |= self._fix_namespace(node, fetched.data)
                return changed

            def _fix_namespace(self, node: etree._Element, data: bytes) -> bool:
                try:
                    imported = parse_xml(data, self.limits, what="imported schema")
                except (XmlRejectedError, MalformedXmlError, PayloadTooLargeError):
                    return False
                actual = imported.get("targetNamespace")
                declared = node.get("namespace")
                if actual is not None and declared is not None and actual != declared:
                    node.set("namespace", actual)
                    self._note(f"xs:import namespace {declared!r} set to {actual!r}")
                    return True
                return False

            def _local_path(self, location: str) -> str | None:
                if location.startswith(BUNDLED):
                    from importlib import resources

                    bundled = resources.files("translators.wsdl.bundled") / location[len(BUNDLED) :]
                    return str(Path(str(bundled)))
                if location.startswith(("http://", "https://", "upload:")):
                    return None
                return location

            def _note(self, message: str) -> None:
                self.rewrites.append(message)
                logger.warning("zeep transport: %s", message)

        return _Transport(*args, **kwargs)


def zeep_client(
    wsdl: str | Path, resolver: DocumentResolver | None = None, limits: XmlLimits | None = None
) -> Any:
    """A ``zeep.Client`` for a local WSDL, loaded through the translator's resolver."""
    zeep: Any = importlib.import_module("zeep")

    harden_zeep()
    if resolver is None:  # imports confined to the WSDL's folder, like the translator's own
        resolver = DocumentResolver.beside(wsdl)
    limits = limits or XmlLimits(max_bytes=resolver.max_bytes)
    transport = ResolvingTransport(resolver, limits)
    return zeep.Client(str(wsdl), transport=transport, settings=zeep_settings())
