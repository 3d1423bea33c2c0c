"""zeep as the oracle of the bridge's request serializer, over the shared corpus.

For every operation of every well-formed corpus WSDL that zeep loads, a sample request
(every declared attribute and element, arrays of two, first choice branches) is serialised
by mmrag and by zeep and the Bodies compared canonically (``bench.request_oracle``: prefixes
and whitespace ignored; the documented differences where zeep is wrong are listed there).
Also: every operation of every WSDL gets an envelope from mmrag, and mmrag bridges at least
every WSDL zeep bridges.
"""

from __future__ import annotations

from pathlib import Path

from bench.bridgeable import run, summarise


def test_serializer_agrees_with_zeep_on_the_corpus(shared_data: Path) -> None:
    results = run(shared_data / "wsdl_soap", compare=True)
    summary = summarise(results)
    disagreements = [(r.path, o.key) for r in results for o in r.operations if o.agree is False]
    assert disagreements == []
    assert summary["compared_operations"] > 1000
    failures = [(r.path, o.key, o.mmrag) for r in results for o in r.operations if o.mmrag != "ok"]
    assert failures == []
    zeep_only = [r.path for r in results if r.zeep_bridgeable and not r.mmrag_bridgeable]
    assert zeep_only == []
    assert summary["mmrag_bridgeable"] > summary["zeep_bridgeable"]
