"""The hardened parser refuses every hostile construct with a clear error and no I/O."""

from __future__ import annotations

import pytest

from rag.errors import MalformedXmlError, PayloadTooLargeError, XmlRejectedError
from translators.xml.parser import XmlLimits, parse_xml

LIMITS = XmlLimits(max_bytes=1 << 20, max_depth=64)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "xxe-file",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
            "dtd",
        ),
        (
            "xxe-url",
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>',
            "dtd",
        ),
        (
            "billion-laughs",
            b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;">]>'
            b"<l>&c;</l>",
            "dtd",
        ),
        ("external-dtd", b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>', "dtd"),
        ("dtd-after-comment", b"<?xml version='1.0'?><!-- c --><!DOCTYPE r><r/>", "dtd"),
        ("dtd-utf16", '<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16"), "dtd"),
        ("undefined-entity", b"<r>&nope;</r>", "entity"),
        (
            "xinclude",
            b'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></r>',
            "xinclude",
        ),
        ("deep-10000", b"<a>" * 10_000 + b"</a>" * 10_000, "depth"),
        ("deeper-than-limit", b"<a>" * 65 + b"</a>" * 65, "depth"),
    ],
)
def test_hostile_xml_is_rejected(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(XmlRejectedError) as info:
        parse_xml(data, LIMITS)
    assert info.value.reason == reason, name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<r><a></r>",
        b"<r>a & b</r>",
        b'<?xml version="1.0" encoding="no-such-codec"?><r/>',
        b'<?xml version="1.0" encoding="UTF-16"?><r>x</r>',
        b'<?xml version="1.0" encoding="UTF-8"?><r>\xff\xfe</r>',
        b"<a:r/>",
    ],
)
def test_malformed_xml_and_wrong_encodings_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedXmlError):
        parse_xml(data, LIMITS)


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(PayloadTooLargeError) as info:
        parse_xml(b"<r>" + b"x" * 2048 + b"</r>", XmlLimits(max_bytes=1024))
    assert info.value.extra["limit"] == 1024


def test_good_xml_parses_without_comments_and_in_any_declared_encoding() -> None:
    root = parse_xml(
        '<?xml version="1.0" encoding="UTF-16"?><r><!--c--><a>é</a></r>'.encode("utf-16")
    )
    assert [child.tag for child in root] == ["a"]
    assert root[0].text == "é"
    latin = parse_xml('<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode("latin-1"))
    assert latin.text == "é"


def test_depth_at_the_limit_is_fine() -> None:
    assert parse_xml(b"<a>" * 64 + b"</a>" * 64, LIMITS).tag == "a"


def test_text_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_xml("<r/>")  # type: ignore[arg-type]


def test_limits_reject_a_depth_libxml2_cannot_honour() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        XmlLimits(max_depth=1000)


def test_namespace_scopes_agree_with_nsmap() -> None:
    """NamespaceScopes.of(e) == e.nsmap everywhere: default namespaces, shadowed prefixes,
    small scopes merged and big ones chained."""
    import random
    from collections import ChainMap

    from lxml import etree

    from translators.xml.namespaces import NamespaceScopes

    rng = random.Random(7)

    def element(depth: int) -> str:
        names = {rng.choice(("", "a", "b", "c")) + str(rng.randrange(40)) for _ in range(70)}
        count = rng.choice((0, 0, 1, 3, 70))
        declared = sorted(names)[:count] + ([""] if rng.random() < 0.2 else [])
        declarations = " ".join(
            f'xmlns{":" + n if n else ""}="urn:{depth}:{i}"'
            for i, n in enumerate(
                dict.fromkeys(n if n[:1].isalpha() or not n else "p" + n for n in declared)
            )
        )
        inner = "".join(element(depth + 1) for _ in range(rng.randrange(3))) if depth < 6 else ""
        return f"<e {declarations}>{inner}</e>"

    chained = 0
    for _ in range(20):
        root = etree.fromstring(element(0).encode())
        scopes = NamespaceScopes()
        for node in root.iter():
            assert dict(scopes.of(node)) == dict(node.nsmap)
            chained += isinstance(scopes.of(node), ChainMap)
    assert chained  # the big-scope path ran too


_DECLARATIONS = " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(20))
_ATTRIBUTES = " ".join(f'a{i}="{i}"' for i in range(20))


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("UTF-16", "utf-16"),
        ("UTF-16LE", "utf-16-le"),
        ("UTF-16BE", "utf-16-be"),
        ("UTF-32", "utf-32"),
        ("UTF-7", "utf-7"),
    ],
)
def test_namespace_and_attribute_caps_hold_in_every_encoding(encoding: str, codec: str) -> None:
    """The caps are enforced by walks that byte counts may skip: a count of b"xmlns" or
    b"=" says nothing in UTF-16/32 (other bytes) or UTF-7 ("=" may be "+AD0-")."""
    limits = XmlLimits(max_attributes=10)
    for markup, reason in ((_DECLARATIONS, "namespaces"), (_ATTRIBUTES, "attributes")):
        data = f'<?xml version="1.0" encoding="{encoding}"?><r {markup}/>'.encode(codec)
        with pytest.raises(XmlRejectedError) as info:
            parse_xml(data, limits)
        assert info.value.reason == reason, (encoding, reason)


def test_utf7_spelled_declarations_and_attributes_count() -> None:
    limits = XmlLimits(max_attributes=3)
    declared = "".join(f" +AHgAbQBsAG4Acw-:p{i}+AD0AIg-urn:{i}+ACI-" for i in range(5))
    with pytest.raises(XmlRejectedError) as info:
        parse_xml(f'<?xml version="1.0" encoding="UTF-7"?><r{declared}/>'.encode(), limits)
    assert info.value.reason == "namespaces"
    attributes = "".join(f" a{i}+AD0AIg-{i}+ACI-" for i in range(5))
    with pytest.raises(XmlRejectedError) as info:
        parse_xml(f'<?xml version="1.0" encoding="UTF-7"?><r{attributes}/>'.encode(), limits)
    assert info.value.reason == "attributes"


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-32"])
def test_depth_cap_holds_in_every_encoding(codec: str) -> None:
    deep = ("<a>" * 65 + "</a>" * 65).encode(codec)
    with pytest.raises(XmlRejectedError) as info:
        parse_xml(deep, LIMITS)
    assert info.value.reason == "depth"
    assert parse_xml(("<a>" * 64 + "</a>" * 64).encode(codec), LIMITS).tag == "a"


def test_xinclude_spelled_with_character_references_is_refused() -> None:
    data = b'<r xmlns:x="http://www.w3.org/2001/X&#73;nclude"><x:include href="f"/></r>'
    with pytest.raises(XmlRejectedError) as info:
        parse_xml(data, LIMITS)
    assert info.value.reason == "xinclude"


@pytest.mark.parametrize(
    "data",
    [
        b"<r/>",
        b"  \r\n<r/>",
        b'<?xml version="1.0"?><r/>',
        b'<?xml version="1.0"?>\n  <!DOCTYPE r><r/>',
        b"<?xml version='1.0'?><!-- c --><!DOCTYPE r><r/>",
        b"<?xml?><?pi x?><!DOCTYPE r><r/>",
        b"<?xml?><!doctype r><r/>",
        b"<?xml?><![CDATA[x]]><r/>",
        b"<?xml",
        b"<?xml ?>",
        b"<?xml ?><",
        b"<!DOCTYPE r><r/>",
        b"\xef\xbb\xbf<!DOCTYPE r><r/>",
        b"\xef\xbb\xbf<r/>",
        b"",
        b" ",
        b"<?xml?> <!-- never closed",
    ],
)
def test_prolog_shortcut_agrees_with_the_scan(data: bytes) -> None:
    from translators.xml.parser import _prolog_has_doctype, _scan_prolog

    assert _prolog_has_doctype(data) == _scan_prolog(data.decode("latin-1"))
