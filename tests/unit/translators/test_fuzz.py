"""Seeded mutation fuzzing: whatever bytes arrive, the translator either returns a translation
that validates against the schema it names, or raises one of mmrag's domain errors."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from rag.errors import MmragError
from translators.convert.deviations import widen
from translators.convert.schemaless import SCHEMALESS_SCHEMA
from translators.schema.gate import SchemaGate
from translators.service import TranslatorService, WsdlRef

SNIPPETS = [
    b"<",
    b">",
    b"&",
    b"<!DOCTYPE x>",
    b'xsi:nil="true"',
    b"</o:line>",
    b"<o:line>",
    b"\xff",
    b"]]>",
    b'href="#x"',
    b"<![CDATA[",
    b" ",
    b"\x00",
    b"9" * 30,
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.4:
            del out[position : position + rng.randint(1, 20)]
        elif choice < 0.8:
            out[position:position] = rng.choice(SNIPPETS)
        else:
            out[position] = rng.randrange(256)
    return bytes(out)


def test_mutated_messages_fail_cleanly_or_translate_validly(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    rng = random.Random(20240229)
    sources = [
        (fixtures / n).read_bytes() for n in ("order_response.xml", "listnames_response.xml")
    ]
    outcomes = {"ok": 0, "refused": 0, "declared": 0}
    for _ in range(100):
        xml = mutate(rng.choice(sources), rng)
        for wsdl in (constructs, None):
            try:
                result = service.translate(xml, wsdl)
            except MmragError:
                outcomes["refused"] += 1
                continue
            outcomes["ok"] += 1
            if result.mode == "schemaless":
                assert SchemaGate(SCHEMALESS_SCHEMA).reference.is_valid(result.data)
            else:
                assert wsdl is not None
                name = f"{result.binding}/{result.operation}"
                if result.direction == "input":
                    schema = service.schema(wsdl, name, "input")
                else:
                    schema = service.schema(wsdl, name, "output")
                if result.deviations:  # the named schema: the base widened at them
                    assert result.widened_schema is not None
                    assert result.widened_schema["$id"] == result.schema_id
                    assert widen(schema, [d for d in result.deviations if d.part == "body"]) == (
                        result.widened_schema
                    )
                    schema = result.widened_schema
                    outcomes["declared"] += 1
                assert SchemaGate(schema).reference.is_valid(result.data)
    assert outcomes["declared"] > 0
    assert outcomes["ok"] > 0
    assert outcomes["refused"] > 0


def test_attribute_counts_around_the_cap(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    """Seeded counts of attributes on one element (any namespace, with and without a WSDL):
    at most the cap translates, above it is refused at the parser; each in bounded time."""
    rng = random.Random(13)
    order = (fixtures / "order_response.xml").read_bytes()
    cap = service.config.max_attributes
    for count in sorted({cap, cap + 1, *(rng.randrange(cap // 2, 3 * cap) for _ in range(6))}):
        names = [f'{rng.choice(("a", "x:b", "c"))}{i}="{i}"' for i in range(count)]
        body = order.replace(b'x:flag="1"', " ".join(names).encode())
        for wsdl in (constructs, None):
            started = time.process_time()
            if count > cap:
                with pytest.raises(MmragError, match=f"more than {cap} attributes"):
                    service.translate(body, wsdl)
            else:
                result = service.translate(body, wsdl)
                assert result.data["GetOrderResponse"]["order"]["extension"]
            assert time.process_time() - started < 0.5, count
