"""Language identification of text units and queries (py3langid: BSD-3, offline, numpy only).

``detect`` returns an ISO 639-1 code, or ``UNDETERMINED`` when the text is too short or the
identifier is not confident (a two-word query in Latin script is often ambiguous). Callers
treat ``UNDETERMINED`` as "no language-specific processing", never as a guess.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

UNDETERMINED = "und"
LANGID_VERSION = "py3langid-0.4.0"
MIN_LETTERS = 3
MIN_CONFIDENCE = 0.5

# py3langid also names some regional varieties and historic forms; search treats them as the
# macrolanguage a model's coverage list and Qdrant's stemmers use (a Chinese question is often
# classified as Wu, an Egyptian Arabic one as ``arz``), so ``lang=zh`` filters find them too.
MACROLANGUAGE = {
    "wuu": "zh",
    "yue": "zh",
    "arz": "ar",
    "ary": "ar",
    "grc": "el",
    "hbo": "he",
    "uzs": "uz",
    "zxx": UNDETERMINED,  # "no linguistic content"
}

_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect(text: str, *, min_confidence: float = MIN_CONFIDENCE) -> str:
    """ISO 639-1 code of ``text``'s language, or ``UNDETERMINED``."""
    if len(_LETTERS.findall(text[:4000])) < MIN_LETTERS:
        return UNDETERMINED
    with _lock:  # the identifier keeps scratch state
        code, confidence = _identifier().classify(text[:4000])
    if float(confidence) < min_confidence:
        return UNDETERMINED
    return macrolanguage(str(code))


def macrolanguage(code: str) -> str:
    """The code search uses for py3langid's ``code`` (see ``MACROLANGUAGE``)."""
    return MACROLANGUAGE.get(code, code)


def coverage_language(text: str, lang: str) -> str:
    """The language to check a model's coverage against.

    ``lang`` when identified. When undetermined: a text mostly in ASCII letters stays
    undetermined (a short Latin-script query; models are given the benefit of the doubt),
    any other text takes the identifier's best guess however unsure (its script alone is
    strong evidence that an English-only model does not cover it).
    """
    if lang != UNDETERMINED:
        return lang
    letters = _LETTERS.findall(text[:4000])
    if not letters or sum(c.isascii() for c in letters) >= len(letters) / 2:
        return UNDETERMINED
    with _lock:
        code, _ = _identifier().classify(text[:4000])
    return macrolanguage(str(code))


def covers(languages: tuple[str, ...], lang: str) -> bool:
    """Whether a model trained on ``languages`` (() = all) covers a text in ``lang``."""
    return not languages or lang == UNDETERMINED or lang in languages
