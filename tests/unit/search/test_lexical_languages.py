"""The lexical signal in every script: language ID, normalisation, per-language BM25."""

from __future__ import annotations

import pytest

from rag.langid import UNDETERMINED, detect, macrolanguage
from rag.lexical import LEXICAL_VERSION, LexicalEncoder, lexical_language, normalise


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Was ist die Hauptstadt von Deutschland?", "de"),
        ("ما هي عاصمة مصر", "ar"),
        ("Какой город является столицей России?", "ru"),
        ("สวัสดีครับ ผมชื่อสมชาย", "th"),
        ("what is the capital of france", "en"),
    ],
)
def test_detect_names_the_language(text: str, code: str) -> None:
    assert detect(text) == code


def test_regional_varieties_are_reported_as_their_macrolanguage() -> None:
    # py3langid calls about one XQuAD Chinese question in ten Wu Chinese (``wuu``); search
    # treats it as Chinese (model coverage, stemming, ``lang=zh`` filters).
    assert detect("本赛季哪个球员拦截次数最多?") == "zh"
    assert macrolanguage("yue") == "zh"
    assert macrolanguage("arz") == "ar"
    assert macrolanguage("de") == "de"


def test_detect_refuses_to_guess_on_too_little_text() -> None:
    assert detect("42") == UNDETERMINED
    assert detect("") == UNDETERMINED


def test_arabic_diacritics_and_letter_variants_match() -> None:
    enc = LexicalEncoder()
    doc = enc.document("الْكِتَابُ أحمد", "ar")
    query = enc.query("الكتاب احمد", "ar")
    assert doc is not None
    assert query is not None
    assert set(doc.indices) == set(query.indices)


def test_numbers_survive_and_number_words_match_digits() -> None:
    enc = LexicalEncoder()
    doc = enc.document("I have two dogs", "en")
    query = enc.query("2 dogs", "en")
    assert doc is not None
    assert query is not None
    assert set(doc.indices) == set(query.indices)
    assert len(doc.indices) == 2
    assert normalise("in 1999", "de") == "in n1999"


def test_scripts_without_spaces_are_segmented() -> None:
    enc = LexicalEncoder()
    thai = enc.document("สวัสดีครับ ผมชื่อสมชาย", "th")
    chinese = enc.document("北京是中国的首都", "zh")
    assert thai is not None
    assert len(thai.indices) > 2
    assert chinese is not None
    assert len(chinese.indices) > 2


def test_stemming_follows_the_language() -> None:
    enc = LexicalEncoder()
    doc = enc.document("Die Häuser der Stadt", "de")
    query = enc.query("Haus Stadt", "de")
    assert doc is not None
    assert query is not None
    assert set(query.indices) <= set(doc.indices)


def test_unknown_language_falls_back_consistently() -> None:
    assert lexical_language("xx", "zzz") == "en"
    assert lexical_language(None, "Was ist die Hauptstadt von Deutschland?") == "de"
    assert "multilingual" in LEXICAL_VERSION


def test_coverage_guesses_the_language_of_unsure_non_latin_text() -> None:
    from rag.langid import coverage_language

    assert coverage_language("x", "de") == "de"
    assert coverage_language("colon cancer", UNDETERMINED) == UNDETERMINED
    assert coverage_language("مصر", UNDETERMINED) not in (UNDETERMINED, "en")


def test_chinese_runs_match_by_character_bigrams() -> None:
    """Word segmentation of a short query and of a passage can disagree; the bigrams of the
    same characters still match (Lucene's CJK analyzer)."""
    from rag.lexical import cjk_bigrams

    assert cjk_bigrams("超级碗 and 東京タワー") == [
        "c036229032423", "c032423030871",
        "c026481020140", "c020140012479", "c012479012527", "c012527012540",
    ]  # fmt: skip
    enc = LexicalEncoder()
    doc = enc.document("第49届超级碗卫冕冠军新英格兰爱国者队", "zh")
    query = enc.query("届超级碗", "zh")
    assert doc is not None
    assert query is not None
    bigram_ids = set(enc.query(" ".join(cjk_bigrams("届超级碗")), "en").indices)  # type: ignore[union-attr]
    assert bigram_ids <= set(doc.indices)
    assert set(query.indices) == bigram_ids  # the run is its bigrams, nothing else


def test_a_segmentation_split_does_not_stop_a_match() -> None:
    """The query's run "超级碗冠军" spans what a segmenter splits into two words in the passage:
    every bigram of the query still occurs in the passage."""
    enc = LexicalEncoder()
    doc = enc.document("新英格兰爱国者队是超级碗冠军。", "zh")
    query = enc.query("超级碗冠军", "zh")
    assert doc is not None
    assert query is not None
    assert set(query.indices) <= set(doc.indices)
