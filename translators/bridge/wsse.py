"""A WS-Security UsernameToken header (OASIS WSS 1.0 UsernameToken Profile).

``PasswordText`` sends the password as written; ``PasswordDigest`` sends
``Base64(SHA-1(nonce + created + password))`` with the nonce and the creation time, as the
profile defines it. One token per request (a fresh nonce each time).
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime

from lxml import etree

__all__ = ["username_token"]

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
_BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)


def username_token(
    username: str, password: str, *, digest: bool, now: datetime | None = None
) -> etree._Element:
    """The ``wsse:Security`` header element carrying one UsernameToken."""
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = username
    if not digest:
        element = etree.SubElement(token, f"{{{WSSE}}}Password", Type=f"{_PROFILE}#PasswordText")
        element.text = password
        return security
    nonce = os.urandom(16)
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # SHA-1 is what the UsernameToken profile defines; nothing here relies on its strength.
    hashed = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False)
    value = hashed.digest()
    element = etree.SubElement(token, f"{{{WSSE}}}Password", Type=f"{_PROFILE}#PasswordDigest")
    element.text = base64.b64encode(value).decode()
    nonce_element = etree.SubElement(token, f"{{{WSSE}}}Nonce", EncodingType=_BASE64)
    nonce_element.text = base64.b64encode(nonce).decode()
    etree.SubElement(token, f"{{{WSU}}}Created").text = created
    return security
