"""Lexical (BM25-style) sparse vectors, computed client-side with qdrant-edge's Bm25.

Documents carry saturated term frequencies; queries carry each term once; the engine applies
IDF (the collections' sparse vector has the IDF modifier). The same encoder serves both store
backends, so lexical scores agree between them.

Every script gets a tokenisation that works for it: Qdrant's ``Multilingual`` tokenizer
(word segmentation for Chinese, Japanese, Thai; Unicode words elsewhere), with the stopwords
and Snowball stemmer of the text's language where Qdrant has them (``rag.langid`` names the
language). Before that, text is normalised the same way for every language: NFKC, Arabic
diacritics, tatweel and letter variants (alef forms, alef maqsura, teh marbuta), numbers in
any script kept as one token (the tokenizer alone drops bare digits), English number words
to digits (two -> 2), so a spoken "two" finds a written "2", and runs of Chinese and Japanese
characters indexed as overlapping character bigrams (``cjk_bigrams``) instead of words.

Text whose language is undetermined (short queries, mixed chunks) is processed as
``FALLBACK_LANGUAGE``: the same choice for documents and queries, so they still match.
Changing any of this changes ``LEXICAL_VERSION``, which is part of every point id.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from itertools import pairwise
from typing import Any

from rag.langid import UNDETERMINED, detect
from rag.store.base import SparseVector

LEXICAL_VERSION = "bm25@qdrant-edge:multilingual-v3"
FALLBACK_LANGUAGE = "en"

# ISO 639-1 -> (qdrant_edge.Language stopwords, qdrant_edge.SnowballLanguage stemmer).
# None: Qdrant has none for that language (the text is still tokenised and matched).
LANGUAGES: dict[str, tuple[str | None, str | None]] = {
    "ar": ("Arabic", "Arabic"),
    "az": ("Azerbaijani", None),
    "bn": ("Bengali", None),
    "ca": ("Catalan", None),
    "da": ("Danish", "Danish"),
    "de": ("German", "German"),
    "el": ("Greek", "Greek"),
    "en": ("English", "English"),
    "es": ("Spanish", "Spanish"),
    "eu": ("Basque", None),
    "fi": ("Finnish", "Finnish"),
    "fr": ("French", "French"),
    "he": ("Hebrew", None),
    "hu": ("Hungarian", "Hungarian"),
    "hy": (None, "Armenian"),
    "id": ("Indonesian", None),
    "it": ("Italian", "Italian"),
    "kk": ("Kazakh", None),
    "ne": ("Nepali", None),
    "nl": ("Dutch", "Dutch"),
    "no": ("Norwegian", "Norwegian"),
    "nb": ("Norwegian", "Norwegian"),
    "pt": ("Portuguese", "Portuguese"),
    "ro": ("Romanian", "Romanian"),
    "ru": ("Russian", "Russian"),
    "sl": ("Slovene", None),
    "sv": ("Swedish", "Swedish"),
    "ta": (None, "Tamil"),
    "tg": ("Tajik", None),
    "tr": ("Turkish", "Turkish"),
    "zh": ("Chinese", None),
    "ja": ("Japanese", None),
}

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans(
    {"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
     "\u0649": "\u064a", "\u0629": "\u0647", "\u0624": "\u0648", "\u0626": "\u064a"}
)  # fmt: skip
_ENGLISH_NUMBERS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty",
)  # fmt: skip
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_ENGLISH_NUMBERS)}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+\b")
# Runs of Han ideographs and kana: the scripts Lucene's CJKBigramFilter (Elasticsearch's `cjk`
# analyzer) covers besides Hangul, which is written with spaces.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")


def _number_token(match: re.Match[str]) -> str:
    # Qdrant's Multilingual tokenizer drops bare numbers: keep them as one word ("n42"),
    # in ASCII digits whatever the script wrote them in.
    return "n" + "".join(str(unicodedata.digit(c, 0)) for c in match.group(0))


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every Han/kana run, each as one ASCII word.

    Word segmentation misses what its dictionary lacks (transliterated names, new terms) and
    splits differently in a short query than in a passage; the bigrams of the same run match
    regardless. Bigrams alone are what Lucene's CJK analyzer indexes (``CJKBigramFilter``);
    on XQuAD Chinese they ranked better than segmented words, with or without the bigrams
    beside them (nDCG@10 0.991 against 0.974 and 0.977, 240 passages, 120 questions). They are
    spelled ``c`` + the two code points in decimal so the tokenizer keeps each as one word
    and no stemmer touches it.
    """
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        out += [f"c{ord(a):06d}{ord(b):06d}" for a, b in pairwise(run)]
    return out


def normalise(text: str, language: str) -> str:
    """Language-independent normalisation, plus English number words -> digits, and each
    run of Chinese/Japanese characters replaced by its character bigrams."""
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
    if language == "en":
        text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], text)
    text = _NUMBER.sub(_number_token, text)
    return _CJK_RUN.sub(lambda m: f" {' '.join(cjk_bigrams(m.group(0)))} ", text)


def lexical_language(language: str | None, text: str) -> str:
    """The language whose processing applies: given, detected, else the fallback."""
    code = language if language and language != UNDETERMINED else detect(text)
    return code if code in LANGUAGES else FALLBACK_LANGUAGE


class LexicalEncoder:
    version = LEXICAL_VERSION

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _bm25(self, language: str) -> Any:
        with self._lock:
            model = self._models.get(language)
            if model is None:
                model = self._models[language] = _build(language)
            return model

    def document(self, text: str, language: str | None = None) -> SparseVector | None:
        if not text.strip():
            return None
        code = lexical_language(language, text)
        return self._convert(self._bm25(code).embed_document(normalise(text, code)))

    def query(self, text: str, language: str | None = None) -> SparseVector | None:
        if not text.strip():
            return None
        code = lexical_language(language, text)
        return self._convert(self._bm25(code).embed_query(normalise(text, code)))

    @staticmethod
    def _convert(vector: Any) -> SparseVector | None:
        if not vector.indices:
            return None
        return SparseVector(tuple(vector.indices), tuple(float(v) for v in vector.values))


def _build(
    language: str, *, stem: bool = True, stop: bool = True, avg_len: float | None = None
) -> Any:
    """qdrant-edge's ``Bm25`` for ``language``. The keywords switch parts off for
    ``bench.lexical_ablation``; the service always uses the defaults (which are what
    ``LEXICAL_VERSION`` names)."""
    import qdrant_edge as qe

    stopwords_name, stemmer_name = LANGUAGES[language]
    stopwords = (
        getattr(qe.Language, stopwords_name) if stopwords_name and stop else qe.StopwordsSet()
    )
    stemmer = (
        qe.SnowballParams(getattr(qe.SnowballLanguage, stemmer_name))
        if stemmer_name and stem
        else qe.DisabledStemmer()
    )
    return qe.Bm25(
        qe.Bm25Config(
            tokenizer=qe.TokenizerType.Multilingual,
            stopwords=stopwords,
            stemmer=stemmer,
            avg_len=avg_len,  # None: Qdrant's default (256)
        )
    )
