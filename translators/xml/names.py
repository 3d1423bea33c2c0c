"""Namespace URIs and qualified-name helpers shared by the translator.

Qualified names are kept in lxml's Clark notation (``{namespace}local``, or ``local`` when
the name has no namespace): a plain ``str`` that is cheap to hash and compare, and exactly
what lxml reports as ``element.tag``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

XSD: Final = "http://www.w3.org/2001/XMLSchema"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XML: Final = "http://www.w3.org/XML/1998/namespace"
XMLNS: Final = "http://www.w3.org/2000/xmlns/"
XINCLUDE: Final = "http://www.w3.org/2001/XInclude"
XOP: Final = "http://www.w3.org/2004/08/xop/include"
XMIME: Final = "http://www.w3.org/2005/05/xmlmime"

SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_ENC: Final = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP12_ENC: Final = "http://www.w3.org/2003/05/soap-encoding"
SOAP_ENVELOPES: Final = frozenset({SOAP11_ENV, SOAP12_ENV})
SOAP_ENCODINGS: Final = frozenset({SOAP11_ENC, SOAP12_ENC})

WSDL11: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL11_SOAP: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL11_SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"
WSDL11_HTTP: Final = "http://schemas.xmlsoap.org/wsdl/http/"
WSDL11_MIME: Final = "http://schemas.xmlsoap.org/wsdl/mime/"
WSDL20: Final = "http://www.w3.org/ns/wsdl"
WSDL20_SOAP: Final = "http://www.w3.org/ns/wsdl/soap"
WSDL20_HTTP: Final = "http://www.w3.org/ns/wsdl/http"


def clark(namespace: str | None, local: str) -> str:
    """``{namespace}local``, or ``local`` for no namespace."""
    return f"{{{namespace}}}{local}" if namespace else local


def split(name: str) -> tuple[str, str]:
    """``(namespace, local)`` of a Clark name; the namespace is ``""`` when there is none."""
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return "", name


def local_name(name: str) -> str:
    return name.rpartition("}")[2]


def namespace_of(name: str) -> str:
    return split(name)[0]


def resolve_prefixed(
    value: str, nsmap: Mapping[str | None, str], *, default_ns: bool = True
) -> str | None:
    """Resolve a ``prefix:local`` QName value against a namespace map.

    Unprefixed names take the default namespace when ``default_ns`` (element and type
    references in XSD do; attribute values naming XSD components always do). Returns None
    when the prefix is not declared.
    """
    value = value.strip()
    prefix, sep, local = value.rpartition(":")
    if not sep:
        namespace = nsmap.get(None) if default_ns else None
        return clark(namespace, value)
    if prefix == "xml":
        return clark(XML, local)
    namespace = nsmap.get(prefix)
    if namespace is None:
        return None
    return clark(namespace, local)
