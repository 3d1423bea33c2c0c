"""chunk_sections and the sentence splitter: exact spans, the token limit, overlap, speed."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexers.text import TextChunk, TextSection, chunk_sections
from indexers.text.sentences import paragraph_spans, sentence_spans

Counter = Callable[[str], int]


def words(text: str) -> int:
    """Whitespace words plus two special tokens, like [CLS] ... [SEP]."""
    return len(text.split()) + 2


def subwords(text: str) -> int:
    """A word costs one token per four characters: long words and blobs cost many."""
    return sum(math.ceil(len(word) / 4) for word in text.split()) + 2


def non_additive(text: str) -> int:
    """Longer texts cost a little more than their parts, as with some BPE tokenizers."""
    count = len(text.split())
    return count + count // 10 + 2


class CountingCounter:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.calls = 0
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return self.counter(text)


def section(text: str, *, page: int | None = None, record: int | None = None) -> TextSection:
    return TextSection(text=text, page=page, record=record, title=None)


def chunk(
    text: str, counter: Counter = words, max_tokens: int = 20, overlap: int = 0
) -> list[TextChunk]:
    return list(
        chunk_sections(
            [section(text)], count_tokens=counter, max_tokens=max_tokens, overlap_tokens=overlap
        )
    )


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text, 0, len(text))]


def check_invariants(
    sections: list[TextSection], chunks: list[TextChunk], counter: Counter, max_tokens: int
) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    by_section: dict[tuple[int | None, int | None], list[TextChunk]] = {}
    for c in chunks:
        by_section.setdefault((c.page, c.record), []).append(c)
    for s in sections:
        mine = by_section.get((s.page, s.record), [])
        covered = bytearray(len(s.text))
        previous: TextChunk | None = None
        for c in mine:
            assert s.text[c.char_start : c.char_end] == c.text
            assert c.text
            assert c.text == c.text.strip()
            assert counter(c.text) <= max_tokens, c.text
            if previous is not None:  # order preserved, always moving forward
                assert c.char_start > previous.char_start
                assert c.char_end > previous.char_end
            previous = c
            covered[c.char_start : c.char_end] = b"\x01" * (c.char_end - c.char_start)
        missing = [i for i, ch in enumerate(s.text) if not ch.isspace() and not covered[i]]
        assert not missing, f"characters not in any chunk: {missing[:10]}"


# --- sentences and paragraphs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith arrived at 3.14 p.m. on Monday! Was it fun? Yes.",
            ["Dr. Smith arrived at 3.14 p.m. on Monday!", "Was it fun?", "Yes."],
        ),
        (
            "Use tools, e.g. hammers. Also i.e. screwdrivers. See Fig. 3 and No. 5 here.",
            ["Use tools, e.g. hammers.", "Also i.e. screwdrivers.", "See Fig. 3 and No. 5 here."],
        ),
        (
            "J. R. R. Tolkien wrote it. The U.S. Army is big. Founded in 1775. Next.",
            ["J. R. R. Tolkien wrote it.", "The U.S. Army is big.", "Founded in 1775.", "Next."],
        ),
        (
            "これは日本語です。東京は大きい！本当？はい。",  # noqa: RUF001
            ["これは日本語です。", "東京は大きい！", "本当？", "はい。"],  # noqa: RUF001
        ),
        ("这是中文。我们在测试", ["这是中文。", "我们在测试"]),
        (
            'He said "Stop." Then he left. "Really?" she asked. Wait... no. Go… Now!',
            [
                'He said "Stop."',
                "Then he left.",
                '"Really?" she asked.',
                "Wait... no.",
                "Go…",
                "Now!",
            ],
        ),
        (
            "1. First item\n2. Second item. Then prose.\na. sub item",
            ["1. First item\n2. Second item.", "Then prose.", "a. sub item"],
        ),
        (
            "Version 2.0.1 is out. Visit example.com/x.html today. Pi is 3.14159. End",
            [
                "Version 2.0.1 is out.",
                "Visit example.com/x.html today.",
                "Pi is 3.14159.",
                "End",
            ],
        ),
        (
            "the wing was tested . the results were good. see fig. 3, etc. and so on. etc. The end",
            [
                "the wing was tested .",
                "the results were good.",
                "see fig. 3, etc. and so on.",
                "etc.",
                "The end",
            ],
        ),
        ("No terminator at all", ["No terminator at all"]),
        ("  \n ", []),
    ],
)
def test_sentence_splitter(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraphs_are_separated_by_blank_lines() -> None:
    text = "  One. Still one.\nSame paragraph.\n\n \t\n Two.\n\n\n\nThree  "
    spans = list(paragraph_spans(text))
    assert [text[a:b] for a, b in spans] == [
        "One. Still one.\nSame paragraph.",
        "Two.",
        "Three",
    ]


def test_sentence_splitting_is_linear_on_a_huge_paragraph() -> None:
    text = "word " * 200_000 + ". " + "Another sentence. " * 50_000
    import time

    started = time.perf_counter()
    spans = list(sentence_spans(text, 0, len(text)))
    assert time.perf_counter() - started < 3.0
    assert len(spans) == 50_001


# --- chunking ------------------------------------------------------------------------------


def test_short_text_is_one_stripped_chunk() -> None:
    text = "\n\n   Hello there. General Kenobi.  \n"
    (only,) = chunk(text)
    assert only == TextChunk(
        text="Hello there. General Kenobi.",
        char_start=5,
        char_end=33,
        page=None,
        record=None,
        index=0,
    )


def test_whitespace_only_sections_give_no_chunks() -> None:
    assert chunk("  \n\n\t ") == []


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraphs = [" ".join(f"p{p}w{w}" for w in range(8)) + "." for p in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = chunk(text, max_tokens=20)  # 18 words of room: two paragraphs of 8 per chunk
    assert [c.text for c in chunks] == [
        "\n\n".join(paragraphs[0:2]),
        "\n\n".join(paragraphs[2:4]),
        "\n\n".join(paragraphs[4:6]),
    ]


def test_a_paragraph_that_does_not_fit_starts_a_new_chunk_when_the_chunk_is_full_enough() -> None:
    first = "Alpha beta gamma delta epsilon zeta eta theta iota kappa."  # 10 words
    second = "One two three four five. Six seven eight nine ten eleven."  # 11 words
    chunks = chunk(f"{first}\n\n{second}", max_tokens=20)
    assert [c.text for c in chunks] == [first, second]


def test_a_short_heading_is_not_left_alone() -> None:
    heading = "Results"
    body = " ".join(f"Sentence {n} is here." for n in range(10))  # 40 words
    chunks = chunk(f"{heading}\n\n{body}", max_tokens=20)
    assert chunks[0].text.startswith("Results\n\nSentence 0 is here.")
    check_invariants([section(f"{heading}\n\n{body}")], chunks, words, 20)


def test_sentences_are_packed_greedily() -> None:
    text = " ".join(f"S{n} has four words." for n in range(10))  # 4 words each
    chunks = chunk(text, max_tokens=14)  # room for 12 words: three sentences
    assert [len(sentences(c.text)) for c in chunks] == [3, 3, 3, 1]


def test_a_long_sentence_is_cut_between_words() -> None:
    text = " ".join(f"w{n}" for n in range(100))
    chunks = chunk(text, max_tokens=12)
    assert all(words(c.text) <= 12 for c in chunks)
    assert " ".join(c.text for c in chunks) == text  # cut between words, nothing lost


def test_a_long_sentence_prefers_line_breaks() -> None:
    lines = [" ".join(f"l{line}w{w}" for w in range(6)) for line in range(8)]
    text = "\n".join(lines)  # one "sentence" without punctuation, like a PDF table
    chunks = chunk(text, max_tokens=15)  # 13 words: two lines
    assert [c.text for c in chunks] == ["\n".join(lines[i : i + 2]) for i in range(0, 8, 2)]


def test_a_giant_token_is_cut_between_characters() -> None:
    blob = "QUJD" * 500  # 2000 characters of base64, one "word"
    text = f"Before. {blob} After."
    chunks = chunk(text, counter=subwords, max_tokens=52)
    check_invariants([section(text)], chunks, subwords, 52)
    assert "".join(c.text for c in chunks if "QUJD" in c.text).count("QUJD") == 500
    assert all(len(c.text) <= 200 for c in chunks)


def test_overlap_repeats_the_trailing_sentences() -> None:
    text = " ".join(f"Sentence number {n} here." for n in range(12))  # 4 words each
    chunks = chunk(text, max_tokens=18, overlap=8)
    check_invariants([section(text)], chunks, words, 18)
    for previous, following in itertools.pairwise(chunks):
        tail = sentences(previous.text)[-2:]
        assert following.text.startswith(" ".join(tail))
        assert following.char_start < previous.char_end


def test_overlap_never_exceeds_its_budget() -> None:
    text = " ".join(f"A sentence with exactly seven words {n}." for n in range(20))
    chunks = chunk(text, max_tokens=30, overlap=10)
    for previous, following in itertools.pairwise(chunks):
        shared = text[following.char_start : previous.char_end]
        assert words(shared) - 2 <= 10


def test_zero_overlap_gives_disjoint_chunks() -> None:
    text = " ".join(f"Sentence number {n} here." for n in range(30))
    chunks = chunk(text, max_tokens=18, overlap=0)
    for previous, following in itertools.pairwise(chunks):
        assert following.char_start > previous.char_end


def test_overlap_larger_than_the_sentences_makes_progress() -> None:
    text = " ".join(f"S{n}." for n in range(50))  # one word per sentence
    chunks = chunk(text, max_tokens=6, overlap=3)  # 4 words of room, up to 3 repeated
    check_invariants([section(text)], chunks, words, 6)
    assert len(chunks) < 50
    assert chunks[-1].text.endswith("S49.")


def test_chunks_never_cross_sections_and_the_index_is_global() -> None:
    sections = [
        section("Page one has a sentence. And another one.", page=1),
        section("Page two.", page=2),
        section("Record text that is somewhat longer than the limit allows.", record=7),
    ]
    chunks = list(chunk_sections(sections, count_tokens=words, max_tokens=8, overlap_tokens=2))
    check_invariants(sections, chunks, words, 8)
    assert [(c.page, c.record) for c in chunks] == [
        (1, None),
        (1, None),
        (2, None),
        (None, 7),
        (None, 7),
    ]


def test_a_non_additive_counter_is_still_respected() -> None:
    text = " ".join(f"Sentence {n} has five words." for n in range(200))
    chunks = chunk(text, counter=non_additive, max_tokens=64, overlap=8)
    check_invariants([section(text)], chunks, non_additive, 64)


def test_count_tokens_is_called_a_linear_number_of_times() -> None:
    text = "\n\n".join(
        " ".join(f"Paragraph {p} sentence {s} has some words." for s in range(8))
        for p in range(300)
    )
    counter = CountingCounter(words)
    chunks = list(
        chunk_sections([section(text)], count_tokens=counter, max_tokens=128, overlap_tokens=16)
    )
    units = 300 * 8
    assert counter.calls <= units + len(chunks) + 1 + 10
    assert counter.chars <= 3 * len(text)


def test_a_short_section_costs_one_count() -> None:
    counter = CountingCounter(words)
    records = [section(f"Record {n}. It has two sentences.", record=n) for n in range(100)]
    chunks = list(chunk_sections(records, count_tokens=counter, max_tokens=64))
    assert [c.text for c in chunks] == [r.text for r in records]
    assert counter.calls == 1 + 100  # the overhead, then one count per record


def test_count_tokens_stays_linear_for_text_without_sentences() -> None:
    text = " ".join(f"w{n}" for n in range(20_000))  # one 20,000-word "sentence"
    counter = CountingCounter(words)
    chunks = list(chunk_sections([section(text)], count_tokens=counter, max_tokens=256))
    check_invariants([section(text)], chunks, words, 256)
    assert counter.chars <= 10 * len(text)  # not quadratic (that would be ~80 x len(text))
    assert counter.calls <= 8 * len(chunks)


def test_sections_are_consumed_lazily() -> None:
    consumed: list[int] = []

    def sections() -> Iterator[TextSection]:
        for page in range(1, 4):
            consumed.append(page)
            yield section(f"Text of page {page}.", page=page)

    chunks = chunk_sections(sections(), count_tokens=words, max_tokens=50)
    assert next(chunks).page == 1
    assert consumed == [1]


@pytest.mark.parametrize(
    ("max_tokens", "overlap", "message"),
    [
        (2, 0, "leaves no room"),
        (1, 0, "leaves no room"),
        (10, 8, "overlap_tokens must be"),
        (10, -1, "overlap_tokens must be"),
    ],
)
def test_bad_limits_are_refused(max_tokens: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):  # at the call, before any iteration
        chunk_sections(
            [section("text")], count_tokens=words, max_tokens=max_tokens, overlap_tokens=overlap
        )


def test_a_single_character_over_the_limit_is_refused() -> None:
    def costly(text: str) -> int:
        return 2 + 5 * len(text)  # every character costs five tokens

    with pytest.raises(ValueError, match="too small for a single character"):
        list(chunk_sections([section("abc")], count_tokens=costly, max_tokens=6, overlap_tokens=0))


# --- properties ------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        *("the", "a", "Dr.", "e.g.", "3.14", "naïve", "東京", "word", "x" * 30, "end.", "why?"),
        *("https://ex.am/p?q=1", "QUJDRA" * 12, "wow!", "。", "“quoted.”", "-", "1.", "\x00"),
    ]
)
_SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", " \n \n", "\t", ". ", "。"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=120))
    if draw(st.booleans()):
        return "".join(word + separator for word, separator in parts)
    # and some arbitrary text, control characters and all
    return "".join(word + separator for word, separator in parts) + draw(st.text(max_size=200))


COUNTERS = {"words": words, "subwords": subwords, "non_additive": non_additive}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    section_texts=st.lists(texts(), min_size=1, max_size=4),
    counter_name=st.sampled_from(sorted(COUNTERS)),
    max_tokens=st.integers(min_value=5, max_value=60),
    overlap_fraction=st.floats(min_value=0.0, max_value=0.9),
)
def test_chunk_invariants(
    section_texts: list[str], counter_name: str, max_tokens: int, overlap_fraction: float
) -> None:
    counter = COUNTERS[counter_name]
    overlap = int((max_tokens - counter("") - 1) * overlap_fraction)
    sections = [section(text, page=number) for number, text in enumerate(section_texts, 1)]
    chunks = list(
        chunk_sections(
            sections, count_tokens=counter, max_tokens=max_tokens, overlap_tokens=overlap
        )
    )
    check_invariants(sections, chunks, counter, max_tokens)
    if overlap == 0:
        for previous, following in itertools.pairwise(chunks):
            if previous.page == following.page:
                assert following.char_start >= previous.char_end


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_sentence_spans_cover_every_character(text: str) -> None:
    covered = bytearray(len(text))
    last_end = 0
    for p_start, p_end in paragraph_spans(text):
        for start, end in sentence_spans(text, p_start, p_end):
            assert last_end <= start < end
            assert not text[start].isspace()
            assert not text[end - 1].isspace()
            covered[start:end] = b"\x01" * (end - start)
            last_end = end
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))
    assert re.sub(r"\s", "", text) == "".join(
        re.sub(r"\s", "", text[a:b])
        for p in paragraph_spans(text)
        for a, b in sentence_spans(text, *p)
    )


def _words(text: str) -> int:
    return len(text.split())


def test_each_section_can_have_its_own_budget() -> None:
    from indexers.text import ChunkBudget, approximate_tokens, chunk_sections_by

    narrow = ChunkBudget(_words, 5, 0)
    wide = ChunkBudget(approximate_tokens, 500, 0)
    text = " ".join(f"w{i}." for i in range(20))
    sections = [TextSection(text, None, 0, None), TextSection(text, None, 1, None)]
    chunks = list(chunk_sections_by(sections, lambda s: narrow if s.record == 0 else wide))
    first = [c for c in chunks if c.record == 0]
    second = [c for c in chunks if c.record == 1]
    assert len(first) == 4
    assert all(_words(c.text) <= 5 for c in first)
    assert [c.text for c in second] == [text]
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_a_language_the_text_model_lacks_is_cut_by_characters_not_its_tokens(
    tmp_path: Path,
) -> None:
    """MiniLM's tokenizer shatters Greek into pieces; its 256-token budget would cut one
    paragraph into several chunks. Cut by characters, it stays whole."""
    from indexers.units import section_budgets
    from rag.models import ModelRegistry
    from rag.models.fakes import FakeTextEmbedder
    from rag.settings import Settings

    settings = Settings(data_dir=tmp_path)
    models = ModelRegistry(settings, loaders={"text": lambda _: FakeTextEmbedder()})
    budget_of = section_budgets(models, settings.index)
    greek_text = "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. " * 8  # noqa: RUF001
    greek = TextSection(greek_text, None, 0, None)
    english = TextSection("Athens is the capital and largest city of Greece. " * 5, None, 1, None)
    assert budget_of(english).count_tokens == models.text().count_tokens
    assert budget_of(greek).count_tokens is not models.text().count_tokens
    assert budget_of(greek).max_tokens * 4 == settings.models.multilingual.max_chars
