"""Sections to chunks that fit a token budget, on paragraph and sentence boundaries.

Each section is cut into *units*: its sentences, and for a sentence over the budget, pieces
of it cut at line breaks, else between words, else between characters (a URL, a base64
blob). Units are packed greedily into chunks; a paragraph that does not fit in what is left
of a chunk starts the next one, unless the chunk is less than half full (a heading, a short
paragraph), which the paragraph's sentences then fill. The next chunk starts with the
trailing units of the previous one that fit in ``overlap_tokens``.

``count_tokens`` is a tokenizer call, so it runs once per unit (and a few times per piece of
an over-long sentence), and the packing adds up those counts. Counts of parts do not always
add up to the count of the whole (special tokens aside), so every chunk is counted once more
before it is emitted and, if it is over, shortened by a unit until it fits. Every chunk
therefore satisfies ``count_tokens(chunk.text) <= max_tokens``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from indexers.text.sections import TextChunk, TextSection
from indexers.text.sentences import paragraph_spans, sentence_spans, strip_span

TokenCounter = Callable[[str], int]

# A paragraph that does not fit starts a new chunk only once the current one is this full.
_PARAGRAPH_BREAK_FILL = 0.5
# Sections up to this many characters per token of budget are first counted whole: most
# records and short files then cost one count instead of one per sentence. (Text runs at
# about 4 to 5 characters per token, so longer ones seldom fit.)
_SHORT_SECTION_CHARS_PER_TOKEN = 5
# ``approximate_tokens``: characters per token of a subword tokenizer on ordinary text.
CHARS_PER_TOKEN = 4
_WHITESPACE = re.compile(r"\s+")
_NEWLINE = re.compile(r"\n")


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int  # without the special tokens every sequence gets
    paragraph_start: bool


class _Budget:
    """``count_tokens`` with the per-sequence overhead ([CLS], [SEP]) taken out."""

    def __init__(self, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int) -> None:
        self.count = count_tokens
        self.max_tokens = max_tokens
        self.overhead = max(count_tokens(""), 0)
        self.tokens = max_tokens - self.overhead
        if self.tokens < 1:
            raise ValueError(
                f"max_tokens={max_tokens} leaves no room for text: an empty text already "
                f"counts {self.overhead} tokens"
            )
        if not 0 <= overlap_tokens < self.tokens:
            raise ValueError(
                f"overlap_tokens must be at least 0 and below {self.tokens}, got {overlap_tokens}"
            )
        self.overlap = overlap_tokens

    def content(self, text: str) -> int:
        return max(self.count(text) - self.overhead, 1)


def _cuts(text: str, start: int, window_end: int, end: int, level: int) -> list[int]:
    """Where ``text[start:end]`` may be cut, up to ``window_end``: at level 0 line breaks,
    1 spaces between words, 2 any character. Levels 0 and 1 also offer the first boundary
    past the window (or ``end``) if it is not too far, in case the window was too short."""
    if level == 2:
        return list(range(start + 1, window_end + 1))
    pattern = _NEWLINE if level == 0 else _WHITESPACE
    cuts = [match.start() for match in pattern.finditer(text, start + 1, window_end)]
    if window_end == end:
        cuts.append(end)
    else:
        reach = min(end, window_end + 2 * (window_end - start))
        beyond = pattern.search(text, window_end, reach)
        if beyond is not None:
            cuts.append(beyond.start())
        elif reach == end:
            cuts.append(end)
    return cuts


def _largest_fitting_cut(
    text: str, start: int, cuts: Sequence[int], guess: int, budget: _Budget
) -> tuple[int, int] | None:
    """The longest ``text[start:cut]`` within budget, as (end, tokens), in a few counts.

    Starts at the estimated cut, extends by the room left while prefixes fit (counts are
    nearly additive, so this converges in two or three steps) and bisects once one does not.
    Counts of prefixes are not strictly monotonic (a tokenizer may fold an overlong word
    into one unknown token), so the result may be shorter than the longest fitting prefix;
    whatever is returned has been counted and fits.
    """
    low, high = -1, len(cuts)  # cuts[low] fits, cuts[high] does not (sentinels outside)
    found: tuple[int, int] | None = None
    probe = min(max(bisect.bisect_right(cuts, guess) - 1, 0), len(cuts) - 1)
    while low + 1 < high:
        piece_end = strip_span(text, start, cuts[probe])[1]
        tokens = budget.content(text[start:piece_end])
        if tokens <= budget.tokens:
            low, found = probe, (piece_end, tokens)
            room = budget.tokens - tokens
            if room == 0:
                break
            chars_per_token = (piece_end - start) / tokens
            target = cuts[probe] + int(room * chars_per_token)
            probe = bisect.bisect_right(cuts, target, low + 1, high) - 1
            probe = max(probe, low + 1)
        else:
            high = probe
            probe = (low + high) // 2
        if not low < probe < high:
            probe = (low + high) // 2
    return found


def _split_long_sentence(
    text: str, start: int, end: int, tokens: int, budget: _Budget
) -> Iterator[_Unit]:
    """Pieces of one sentence that is over the budget, each within it."""
    chars_per_token = (end - start) / max(tokens, 1)
    target = max(int(budget.tokens * chars_per_token * 0.9), 1)
    window = 2 * target + 1  # prefixes tried are about twice as long as a piece at most
    position = start
    while position < end:
        found: tuple[int, int] | None = None
        for level in range(3):
            cuts = _cuts(text, position, min(position + window, end), end, level)
            found = _largest_fitting_cut(text, position, cuts, position + target, budget)
            if found is not None:
                break
        if found is None:
            raise ValueError(
                f"max_tokens={budget.max_tokens} is too small for a single character of the text"
            )
        piece_end, piece_tokens = found
        yield _Unit(position, piece_end, piece_tokens, paragraph_start=position == start)
        position = strip_span(text, piece_end, end)[0]


def _units(text: str, budget: _Budget) -> list[_Unit]:
    units: list[_Unit] = []
    for paragraph_start, paragraph_end in paragraph_spans(text):
        first = True
        for start, end in sentence_spans(text, paragraph_start, paragraph_end):
            tokens = budget.content(text[start:end])
            if tokens <= budget.tokens:
                units.append(_Unit(start, end, tokens, first))
            else:
                for piece in _split_long_sentence(text, start, end, tokens, budget):
                    units.append(
                        _Unit(piece.start, piece.end, piece.tokens, first and piece.paragraph_start)
                    )
            first = False
    return units


def _paragraph_tokens(units: Sequence[_Unit]) -> list[int]:
    """For each unit that starts a paragraph, the tokens of the whole paragraph."""
    totals = [0] * len(units)
    running = 0
    for index in range(len(units) - 1, -1, -1):
        running += units[index].tokens
        if units[index].paragraph_start:
            totals[index] = running
            running = 0
    return totals


def _pack(text: str, units: Sequence[_Unit], budget: _Budget) -> Iterator[tuple[int, int]]:
    """Chunks as unit ranges ``[first, end)``; consecutive ranges overlap by a few units."""
    paragraph_tokens = _paragraph_tokens(units)
    first = 0  # the chunk's first unit (overlap included)
    new = 0  # its first unit not in the previous chunk
    while new < len(units):
        tokens = sum(unit.tokens for unit in units[first:new])
        while first < new and tokens + units[new].tokens > budget.tokens:
            tokens -= units[first].tokens  # the overlap gives way to new text
            first += 1
        end = new
        while end < len(units):
            unit = units[end]
            if end > new and unit.paragraph_start:
                fits = tokens + paragraph_tokens[end] <= budget.tokens
                if not fits and tokens >= budget.tokens * _PARAGRAPH_BREAK_FILL:
                    break
            if tokens + unit.tokens > budget.tokens:
                break
            tokens += unit.tokens
            end += 1
        # The sum of the parts is an estimate: count the chunk itself, shorten if over.
        while budget.count(text[units[first].start : units[end - 1].end]) > budget.max_tokens:
            if end - 1 > new:
                end -= 1
            elif first < new:
                first += 1
            else:
                break  # one unit alone was counted exactly when it was made: it fits
        yield first, end
        overlap_start, overlap = end, 0
        while overlap_start - 1 > first:
            tokens_before = units[overlap_start - 1].tokens
            if overlap + tokens_before > budget.overlap:
                break
            overlap += tokens_before
            overlap_start -= 1
        first, new = overlap_start, end


def _chunk_spans(text: str, budget: _Budget) -> Iterator[tuple[int, int]]:
    start, stop = strip_span(text, 0, len(text))
    if start == stop:
        return
    short = stop - start <= budget.tokens * _SHORT_SECTION_CHARS_PER_TOKEN
    if short and budget.count(text[start:stop]) <= budget.max_tokens:
        yield start, stop
        return
    units = _units(text, budget)
    for first, end in _pack(text, units, budget):
        yield units[first].start, units[end - 1].end


def chunk_sections(
    sections: Iterable[TextSection],
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overlap_tokens: int = 32,
) -> Iterator[TextChunk]:
    """Split sections into chunks of at most ``max_tokens`` as counted by ``count_tokens``.

    ``count_tokens`` counts special tokens too (``TextEmbedder.count_tokens``); the room they
    take is measured once as ``count_tokens("")``. Chunks never cross sections; their
    ``index`` runs across the whole document. Sections are consumed one at a time.

    Raises ``ValueError`` at once if ``max_tokens`` leaves no room for text or
    ``overlap_tokens`` is not below that room.
    """
    budget = _Budget(count_tokens, max_tokens, overlap_tokens)
    return _chunks(sections, lambda _section: budget)


@dataclass(frozen=True)
class ChunkBudget:
    """How one section is measured: a token counter, its limit and the overlap."""

    count_tokens: Callable[[str], int]
    max_tokens: int
    overlap_tokens: int = 32


def chunk_sections_by(
    sections: Iterable[TextSection], budget_of: Callable[[TextSection], ChunkBudget]
) -> Iterator[TextChunk]:
    """``chunk_sections`` with each section's budget chosen by ``budget_of`` (budgets are
    checked once each, when first used)."""
    checked: dict[ChunkBudget, _Budget] = {}

    def budget(section: TextSection) -> _Budget:
        spec = budget_of(section)
        if spec not in checked:
            checked[spec] = _Budget(spec.count_tokens, spec.max_tokens, spec.overlap_tokens)
        return checked[spec]

    return _chunks(sections, budget)


def approximate_tokens(text: str) -> int:
    """A model-free count: one token per ``CHARS_PER_TOKEN`` characters (no special tokens)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def _chunks(
    sections: Iterable[TextSection], budget_of: Callable[[TextSection], _Budget]
) -> Iterator[TextChunk]:
    index = 0
    for section in sections:
        text = section.text
        budget = budget_of(section)
        for start, stop in _chunk_spans(text, budget):
            yield TextChunk(
                text=text[start:stop],
                char_start=start,
                char_end=stop,
                page=section.page,
                record=section.record,
                index=index,
            )
            index += 1
