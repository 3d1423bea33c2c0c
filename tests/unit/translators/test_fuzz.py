"""Seeded mutation fuzzing: whatever bytes arrive, the translator either returns a translation
that validates against the schema it names, or raises one of mmrag's domain errors."""

from __future__ import annotations

import random
from pathlib import Path

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
