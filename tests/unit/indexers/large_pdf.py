"""A long PDF of realistic prose, for the memory and speed tests of extraction and chunking."""

from __future__ import annotations

import random
from pathlib import Path

from tests.unit.indexers.pdf_builder import write_pdf

_COMMON_WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no what up can more out other into than then some could them only its time these two "
    "may first new very after should any our most now people over such where through also "
    "lighthouse harbour engine voltage protein theorem river market policy climate signal"
)
_VOCABULARY = _COMMON_WORDS.split()


def prose_page(rng: random.Random, words: int) -> str:
    sentences: list[str] = []
    count = 0
    while count < words:
        length = rng.randint(6, 28)
        sentence = " ".join(rng.choice(_VOCABULARY) for _ in range(length))
        sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".....?!"))
        count += length
    return " ".join(sentences)


def write_long_pdf(path: Path, *, pages: int = 500, words_per_page: int = 300) -> Path:
    rng = random.Random(20240501)
    return write_pdf(
        path, [prose_page(rng, words_per_page) for _ in range(pages)], title="A long report"
    )
