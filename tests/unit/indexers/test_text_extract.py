"""extract_sections: every format, every encoding, every kind of bad input."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Generator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indexers.text.json_records as json_records
from indexers.text import (
    TEXT_EXTENSIONS,
    ExtractionError,
    FileTooLargeError,
    TextSection,
    UnsupportedFormatError,
    extract_sections,
)
from rag.errors import BadInputError, PayloadTooLargeError, UnsupportedMediaError
from tests.conftest import REPO_ROOT
from tests.unit.indexers.pdf_builder import build_pdf, write_pdf

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "text"

FRENCH = (
    "Le café coûte 3 € — « déjà vu », dit-il. La façade du théâtre est restaurée, "
    "et le garçon apporte une crème brûlée.\n"
)
GERMAN = "Grüße aus München! Die Straße ist schön, und der Bäcker verkauft Brötchen.\n"


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _sections(path: Path, **options: object) -> list[TextSection]:
    return list(extract_sections(path, **options))  # type: ignore[arg-type]


def _only_text(path: Path) -> str:
    sections = _sections(path)
    assert len(sections) == 1
    return sections[0].text


def _error(path: Path, **options: object) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        _sections(path, **options)
    return info.value


def test_all_is_honest() -> None:
    import types

    import indexers.text as package

    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(package.__all__)
    assert {"TextSection", "TextChunk", "TEXT_EXTENSIONS", "extract_sections"} <= public
    assert {"chunk_sections", "ExtractionError"} <= public


def test_extensions_are_the_contract() -> None:
    assert (
        frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl"})
        == TEXT_EXTENSIONS
    )


# --- plain text and encodings -------------------------------------------------------------


def test_utf8_text_is_one_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.txt", "Ünïcödé text.\n\nSecond paragraph — ok.\n")
    assert _sections(path) == [
        TextSection(
            text="Ünïcödé text.\n\nSecond paragraph — ok.\n", page=None, record=None, title=None
        )
    ]


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_byte_order_marks_pick_the_encoding_and_are_dropped(
    tmp_path: Path, bom: bytes, encoding: str
) -> None:
    path = _write(tmp_path, "bom.txt", bom + (FRENCH + "日本語のテキスト。").encode(encoding))
    assert _only_text(path) == FRENCH + "日本語のテキスト。"


@pytest.mark.parametrize(("text", "encoding"), [(FRENCH, "cp1252"), (GERMAN, "latin-1")])
def test_legacy_single_byte_text_is_detected(tmp_path: Path, text: str, encoding: str) -> None:
    path = _write(tmp_path, "legacy.txt", (text * 3).encode(encoding))
    assert _only_text(path) == text * 3


def test_cp1252_smart_quotes_survive(tmp_path: Path) -> None:
    text = "He said \u201chello\u201d \u2013 it\u2019s fine, isn\u2019t it? The café was £5.\n"
    path = _write(tmp_path, "quotes.txt", text.encode("cp1252"))
    assert _only_text(path) == text


def test_other_legacy_encodings_come_from_charset_normalizer(tmp_path: Path) -> None:
    text = "Привет, как дела? Это тестовый текст на русском языке для проверки кодировки.\n"
    path = _write(tmp_path, "ru.txt", text.encode("cp1251"))
    assert _only_text(path) == text


def test_newlines_are_normalised_and_control_characters_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, "crlf.txt", "one\r\ntwo\rthree\x0cfour\x1b\x07 five\u2029six")
    assert _only_text(path) == "one\ntwo\nthree\n\nfour five\n\nsix"


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  "])
def test_empty_text_is_refused(tmp_path: Path, content: bytes) -> None:
    error = _error(_write(tmp_path, "empty.txt", content))
    assert "no text found" in error.reason
    assert isinstance(error, BadInputError)
    assert error.code == "extraction-failed"


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
        (b"PK\x03\x04" + bytes(range(256)) * 4, "ZIP"),
        (bytes(range(256)) * 8, "binary content"),
        (b"text with a NUL \x00 inside it, " * 10, "binary content"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    ],
)
def test_binary_content_behind_a_text_extension_is_refused(
    tmp_path: Path, content: bytes, what: str
) -> None:
    error = _error(_write(tmp_path, "data.txt", content))
    assert error.reason.startswith("not a text file: binary content")
    assert what in error.reason
    assert isinstance(error, UnsupportedFormatError)
    assert isinstance(error, UnsupportedMediaError)


def test_broken_utf16_after_its_bom_is_refused(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "odd.txt", codecs.BOM_UTF16_LE + b"a\x00b"))
    assert error.reason.startswith("undecodable text")


def test_utf8_with_a_corrupt_byte_is_undecodable(tmp_path: Path) -> None:
    text = ("Grüße aus München — “quoted” text. " * 20).encode()
    error = _error(_write(tmp_path, "broken.txt", text + b"\xff" + text))
    assert error.reason.startswith("undecodable text: not UTF-8")
    assert f"offset {len(text)}" in error.reason


def test_unsupported_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "slides.pptx", b"whatever")
    sections = extract_sections(path)  # problems with the file surface while iterating
    with pytest.raises(UnsupportedFormatError, match=r"unsupported file type '\.pptx'"):
        next(sections)


def test_extension_case_does_not_matter(tmp_path: Path) -> None:
    assert _only_text(_write(tmp_path, "LOUD.TXT", "quiet text")) == "quiet text"


def test_oversize_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", "x" * 2000)
    with pytest.raises(FileTooLargeError) as info:
        _sections(path, max_bytes=1000)
    error = info.value
    assert (error.size, error.max_bytes) == (2000, 1000)
    assert isinstance(error, PayloadTooLargeError)
    assert isinstance(error, ExtractionError)
    assert error.code == "payload-too-large"
    assert "big.txt" in error.detail
    assert _only_text(path) == "x" * 2000  # no limit by default
    assert _sections(path, max_bytes=2000)


def test_missing_file(tmp_path: Path) -> None:
    error = _error(tmp_path / "gone.txt")
    assert error.reason.startswith("cannot read the file")
    assert error.path == tmp_path / "gone.txt"


def test_error_detail_names_the_file_not_its_directory(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "empty.md", b""))
    assert error.detail.startswith("cannot extract text from empty.md: no text found")
    assert str(tmp_path) not in error.detail
    assert error.extra["path"] == str(tmp_path / "empty.md")


def test_bad_json_field_is_a_programming_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.jsonl", '{"text": "x"}\n')
    for field in ("", "body..text", ".text"):
        with pytest.raises(ValueError, match="dotted path"):
            extract_sections(path, json_text_field=field)


# --- markdown ------------------------------------------------------------------------------


def test_markdown_fixture() -> None:
    (section,) = _sections(FIXTURES / "guide.md")
    assert section.title == "Brewing Coffee at Home"
    assert "COMMENT-MUST-NOT-APPEAR" not in section.text
    assert "```" not in section.text
    assert "~~~" not in section.text
    assert "ratio = 1 / 16  # <!-- this comment is code and stays -->" in section.text
    assert "# Brewing Coffee at Home" in section.text  # markdown stays searchable as is
    assert "Heat water to about 93 °C." in section.text
    # code stands apart from prose as its own paragraph
    assert "\n\nratio = 1 / 16" in section.text
    assert "plain fence\n\n" in section.text


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("Intro\n\n## Second level\n\n# First level\n", "First level"),
        ("Intro\n\n## Only a second level ##\n", "Only a second level"),
        ("Setext Title\n============\n\nBody.", "Setext Title"),
        ("```\n# not a heading, code\n```\n\nBody text.", None),
        ("#hashtag is not a heading\n\nBody.", None),
        ("No heading at all.", None),
    ],
)
def test_markdown_title(tmp_path: Path, markdown: str, title: str | None) -> None:
    (section,) = _sections(_write(tmp_path, "doc.markdown", markdown))
    assert section.title == title


def test_markdown_of_only_comments_has_no_text(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "c.md", "<!-- nothing\nhere -->\n\n"))
    assert "no text found" in error.reason


# --- HTML ----------------------------------------------------------------------------------


def test_html_fixture() -> None:
    (section,) = _sections(FIXTURES / "article.html")
    assert section.title == "Lighthouses of the North Sea"
    assert "MUST-NOT-APPEAR" not in section.text
    assert "font-family" not in section.text
    paragraphs = section.text.split("\n\n")
    assert paragraphs == [
        "Home · Coast",
        "Lighthouses",
        "A lighthouse is a tower that emits light to guide ships. The first lighthouses "
        "burned wood or coal; later ones used oil lamps and Fresnel lenses.",
        "Keepers lived on site & kept the light burning.\nMost are automated today.",
        "Heligoland, built 1952",
        "Roter Sand, built 1885",
        "Name Height",
        "Roter Sand 52 m",
        'lamp   = "on"\nrotate = true',
        "Written by the coastal society.",
    ]


def test_html_with_a_declared_legacy_charset(tmp_path: Path) -> None:
    html = "<html><head><meta charset='iso-8859-1'><title>Café</title></head><body><p>" + FRENCH
    (section,) = _sections(_write(tmp_path, "legacy.htm", html.encode("cp1252")))
    assert section.title == "Café"
    assert section.text == FRENCH.strip()


def test_xhtml_with_an_xml_declaration(tmp_path: Path) -> None:
    xhtml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
        "<body><p>Grüße</p></body></html>"
    )
    (section,) = _sections(_write(tmp_path, "x.html", xhtml))
    assert (section.title, section.text) == ("X", "Grüße")


def test_html_never_resolves_external_entities(tmp_path: Path) -> None:
    secret = _write(tmp_path, "secret.txt", "TOP-SECRET-VALUE")
    html = (
        f'<!DOCTYPE html [<!ENTITY leak SYSTEM "file://{secret}">]>'
        "<html><body><p>before &leak; after</p></body></html>"
    )
    text = _only_text(_write(tmp_path, "xxe.html", html))
    assert "TOP-SECRET-VALUE" not in text
    assert "before" in text


def test_html_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    (section,) = _sections(_write(tmp_path, "t.html", "<h1> Main  <b>topic</b></h1><p>Body.</p>"))
    assert section.title == "Main topic"


def test_html_without_visible_text(tmp_path: Path) -> None:
    html = "<html><head><title>Only a title</title><script>x()</script></head><body> </body>"
    assert "no text found" in _error(_write(tmp_path, "blank.html", html)).reason


def test_html_nested_past_the_parser_limit_is_refused(tmp_path: Path) -> None:
    html = "<p>start</p>" + "<div>" * 400 + "deep" + "</div>" * 400
    error = _error(_write(tmp_path, "deep.html", html))
    assert error.reason.startswith("malformed HTML")


def test_broken_html_is_recovered(tmp_path: Path) -> None:
    text = _only_text(_write(tmp_path, "b.html", "<p>one <b>two</p><p>three</i> &nosuch; <div"))
    assert text == "one two\n\nthree &nosuch;"


# --- PDF -----------------------------------------------------------------------------------


def test_pdf_pages_are_sections_with_page_numbers(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "doc.pdf",
        ["First page text.\nSecond line.", "", "Third page (after a blank one)."],
        title="Report 2024",
    )
    sections = _sections(path)
    assert [(s.page, s.record, s.title) for s in sections] == [
        (1, None, "Report 2024"),
        (3, None, "Report 2024"),
    ]
    assert sections[0].text == "First page text.\nSecond line."
    assert sections[1].text == "Third page (after a blank one)."


def test_pdf_without_title(tmp_path: Path) -> None:
    (section,) = _sections(write_pdf(tmp_path / "a.pdf", ["Text with €, é and \\ (parens)."]))
    assert section.title is None
    assert section.text == "Text with €, é and \\ (parens)."


def test_pdf_words_hyphenated_across_lines_are_joined(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "h.pdf", ["An exam-\nple of hyphen-\nation.\nNext line."])
    assert _only_text(path) == "An example of hyphenation.\nNext line."


def test_pdf_title_whitespace_is_normalised(tmp_path: Path) -> None:
    (section,) = _sections(write_pdf(tmp_path / "t.pdf", ["Text."], title="  Annual\tReport  "))
    assert section.title == "Annual Report"


def test_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "lazy.pdf", [f"Page {n}." for n in range(1, 6)])
    sections = extract_sections(path)
    assert next(sections).text == "Page 1."
    assert next(sections).page == 2
    assert isinstance(sections, Generator)
    sections.close()  # closing early releases the document


def test_owner_password_only_pdf_opens(tmp_path: Path) -> None:
    (section,) = _sections(write_pdf(tmp_path / "o.pdf", ["Readable."], user_password=""))
    assert section.text == "Readable."


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    error = _error(write_pdf(tmp_path / "e.pdf", ["Hidden."], user_password="secret"))
    assert error.reason.startswith("PDF is encrypted")


def test_scanned_pdf_is_refused_with_a_hint(tmp_path: Path) -> None:
    error = _error(write_pdf(tmp_path / "scan.pdf", ["", ""], image_pages={0, 1}))
    assert "no extractable text" in error.reason
    assert "scanned" in error.reason
    assert "2 of 2 pages" in error.reason


def test_pdf_with_empty_pages_only(tmp_path: Path) -> None:
    assert "no text found" in _error(write_pdf(tmp_path / "blank.pdf", ["", ""])).reason


def test_pdf_mixing_scanned_and_text_pages_yields_the_text(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "mix.pdf", ["", "Typed page."], image_pages={0})
    assert [(s.page, s.text) for s in _sections(path)] == [(2, "Typed page.")]


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_is_corrupt(tmp_path: Path, keep: float) -> None:
    data = build_pdf([f"Page {n} has text." for n in range(10)])
    path = _write(tmp_path, "cut.pdf", data[: int(len(data) * keep)])
    error = _error(path)
    assert error.reason.startswith("corrupt PDF")


@pytest.mark.parametrize(
    "content",
    [b"just some text, not a PDF", b"%PDF-1.7\n" + bytes(range(256)) * 8],
)
def test_garbage_pdf_is_corrupt(tmp_path: Path, content: bytes) -> None:
    assert _error(_write(tmp_path, "bad.pdf", content)).reason.startswith("corrupt PDF")


def test_empty_pdf_file(tmp_path: Path) -> None:
    assert "no text found" in _error(_write(tmp_path, "zero.pdf", b"")).reason


# --- JSON and JSON Lines --------------------------------------------------------------------


def test_jsonl_fixture_with_nested_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="indexers.text.json_records"):
        sections = _sections(
            FIXTURES / "records.jsonl", json_text_field="body.text", json_title_field="meta.title"
        )
    assert [(s.record, s.title) for s in sections] == [(0, "Tides"), (1, "Currents"), (4, "Waves")]
    assert sections[0].text.startswith("Tides are caused by the Moon's gravity.")
    assert all(s.page is None for s in sections)
    (warning,) = caplog.records
    assert "skipped 1 of 4 records" in warning.getMessage()
    assert "'body.text'" in warning.getMessage()
    assert "record 3" in warning.getMessage()


def test_json_array_records(tmp_path: Path) -> None:
    records = [
        {"title": "One", "text": "First record."},
        {"text": "Second record, no title."},
        {"title": 7, "text": "A title that is not text is ignored."},
        {"title": "Paragraphs", "text": ["Para one.", "Para two."]},
    ]
    path = _write(tmp_path, "a.json", json.dumps(records, indent=2))
    assert _sections(path) == [
        TextSection("First record.", None, 0, "One"),
        TextSection("Second record, no title.", None, 1, None),
        TextSection("A title that is not text is ignored.", None, 2, None),
        TextSection("Para one.\n\nPara two.", None, 3, "Paragraphs"),
    ]


def test_json_title_field_can_be_turned_off(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.jsonl", '{"title": "T", "text": "x"}\n')
    (section,) = _sections(path, json_title_field=None)
    assert section.title is None


def test_dotted_path_through_a_list(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", '[{"parts": [{"text": "zero"}, {"text": "one"}]}]')
    (section,) = _sections(path, json_text_field="parts.1.text")
    assert section.text == "one"


def test_single_top_level_object_is_one_record(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.json", '{"title": "Solo", "text": "Only record."}')
    assert _sections(path) == [TextSection("Only record.", None, None, "Solo")]


def test_no_record_has_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.jsonl", '{"body": "a"}\n{"body": "b"}\n')
    error = _error(path)
    assert error.reason == "no record has the text field 'text'"
    error = _error(path, json_text_field="content.text")
    assert "'content.text'" in error.reason


def test_records_whose_field_is_not_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "r.jsonl", '{"text": 42}\n{"text": "ok"}\n{"text": {"a": 1}}\n')
    with caplog.at_level(logging.WARNING):
        assert [s.record for s in _sections(path)] == [1]
    assert "skipped 2 of 3 records that have no text in the field 'text'" in caplog.text
    only_numbers = _write(tmp_path, "n.jsonl", '{"text": 42}\n{"text": [1]}\n')
    assert _error(only_numbers).reason == (
        "no record has text in the field 'text' (2 hold other JSON values)"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[]", "no text found: the file holds no records"),
        ("\n\n", "no text found"),
        ('[{"text": "  "}, {"text": ""}]', "no text found: every record's text is empty"),
        ('"just a string"', "JSON must be an array of records or one object"),
        ("42", "JSON must be an array of records or one object"),
    ],
)
def test_json_without_usable_records(tmp_path: Path, content: str, reason: str) -> None:
    assert _error(_write(tmp_path, "x.json", content)).reason.startswith(reason)


def test_jsonl_record_index_is_the_line_index(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.jsonl", '\n{"text": "a"}\n\n{"text": "b"}\n')
    assert [s.record for s in _sections(path)] == [1, 3]


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": "c",,}\n')
    sections = extract_sections(path)
    assert next(sections).text == "a"  # streamed: earlier records come first
    assert next(sections).text == "b"
    with pytest.raises(ExtractionError) as info:
        next(sections)
    assert info.value.line == 3
    assert "(line 3)" in info.value.detail
    assert info.value.reason.startswith("malformed JSON")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('[\n  {"text": "a"},\n  {"text": "b"}\n  {"text": "c"}\n]', 4),
        ('[\n  {"text": "a"},\n  {"text": "b",\n]', 4),
        ('[{"text": "a"}] trailing', 1),
        ('{"text": "a"}\n\n{"text": "b"}', 3),
        ('[{"text": "a"},\n{"text": "unterminated', 2),
        ("\n\n<html>", 3),
    ],
)
def test_malformed_json_names_the_line(tmp_path: Path, content: str, line: int) -> None:
    error = _error(_write(tmp_path, "bad.json", content))
    assert error.reason.startswith("malformed JSON")
    assert error.line == line


def test_deeply_nested_json_is_refused_cleanly(tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested too deeply" in _error(path).reason


def test_json_array_is_streamed_across_small_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        {"text": f"Record {n}: naïve café 日本語 {'x' * (n % 13)}", "n": n * 1.5, "ok": n % 2 == 0}
        for n in range(60)
    ]
    path = _write(tmp_path, "stream.json", json.dumps(records, ensure_ascii=False, indent=1))
    monkeypatch.setattr(json_records, "_READ_BYTES", 7)  # cut multi-byte characters and numbers
    sections = _sections(path)
    assert [s.text for s in sections] == [r["text"] for r in records]
    assert [s.record for s in sections] == list(range(60))


def test_utf16_jsonl_with_bom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "".join(json.dumps({"text": f"Zeile {n}: Grüße"}) + "\r\n" for n in range(50))
    path = _write(tmp_path, "u16.jsonl", codecs.BOM_UTF16_LE + lines.encode("utf-16-le"))
    monkeypatch.setattr(json_records, "_READ_BYTES", 11)
    sections = _sections(path)
    assert [s.record for s in sections] == list(range(50))
    assert sections[-1].text == "Zeile 49: Grüße"


def test_legacy_encoded_jsonl(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "l.jsonl", (json.dumps({"text": FRENCH}, ensure_ascii=False) + "\n") * 3
    )
    path.write_bytes(path.read_text("utf-8").encode("cp1252"))
    assert [s.text for s in _sections(path)] == [FRENCH.strip() + "\n"] * 3


def test_invalid_utf8_in_jsonl_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The encoding comes from the file's first bytes (valid UTF-8 here); the bad byte is later.
    monkeypatch.setattr(json_records, "SAMPLE_BYTES", 16)
    content = b'{"text": "fine"}\n{"text": "also fine"}\n{"text": "bad \xff\xfe byte"}\n'
    sections = extract_sections(_write(tmp_path, "r.jsonl", content))
    assert next(sections).text == "fine"
    with pytest.raises(ExtractionError) as info:
        list(sections)
    assert info.value.line == 3
    assert info.value.reason.startswith("undecodable text")


def test_binary_file_named_jsonl(tmp_path: Path) -> None:
    error = _error(_write(tmp_path, "x.jsonl", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4))
    assert error.reason.startswith("not a text file: binary content")


# --- robustness: whatever the bytes, an ExtractionError or sections, nothing else ------------

_VALID_PDF = build_pdf(["Some text on page one.", "And page two."], title="T")


@st.composite
def _damaged_pdf(draw: st.DrawFn) -> bytes:
    data = bytearray(_VALID_PDF)
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[position] = draw(st.integers(min_value=0, max_value=255))
    return bytes(data[: draw(st.integers(min_value=0, max_value=len(data)))])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    suffix=st.sampled_from(sorted(TEXT_EXTENSIONS)),
    content=st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=1000).map(lambda text: text.encode("utf-8")),
        _damaged_pdf(),
    ),
)
def test_any_bytes_give_sections_or_an_extraction_error(
    tmp_path: Path, suffix: str, content: bytes
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        sections = list(extract_sections(path))
    except ExtractionError:
        return
    assert sections
    for section in sections:
        assert section.text.strip()
