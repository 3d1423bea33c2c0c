"""PDF pages to text with pdfium (pypdfium2), one page at a time.

The document is opened from its path, so pdfium reads what it needs from the file; each page
and its text layer are closed before the next is loaded, so memory stays bounded whatever the
page count. Pages without text are skipped; a PDF with no text at all is refused, with a hint
when its pages hold images (a scan, which needs OCR).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from indexers.text.decoding import tidy_text
from indexers.text.errors import ExtractionError
from indexers.text.sections import TextSection

logger = logging.getLogger(__name__)

_HEADER_WINDOW = 1024  # readers accept a %PDF- header anywhere in the first kilobyte

# pdfium ends each line with CRLF, and where a line ends in a hyphen it judges to break a
# word ("exam-" / "ple") it joins the lines and leaves U+0002 in place of the hyphen. The
# word is what people search for, so the marker is dropped: "example".
_LINE_END_HYPHEN = "\x02"


def _open_error(path: Path, exc: Exception) -> ExtractionError:
    code = getattr(exc, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return ExtractionError(path, "PDF is encrypted: a password is needed to open it")
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return ExtractionError(path, "PDF is encrypted with an unsupported security handler")
    if code == pdfium_c.FPDF_ERR_FORMAT:
        return ExtractionError(
            path, "corrupt PDF: its structure cannot be read (damaged or truncated)"
        )
    if code == pdfium_c.FPDF_ERR_FILE:
        return ExtractionError(path, "cannot read the file")
    return ExtractionError(path, f"corrupt PDF: {exc}")


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEADER_WINDOW)
    except OSError as exc:
        raise ExtractionError(path, f"cannot read the file: {exc.strerror}") from exc
    if not head.strip():
        raise ExtractionError(path, "no text found: the file is empty")
    if b"%PDF-" not in head:
        raise ExtractionError(path, "corrupt PDF: no PDF header (this is not a PDF file)")


def _has_images(page: pdfium.PdfPage) -> bool:
    images = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)
    return next(iter(images), None) is not None


def _metadata_title(document: pdfium.PdfDocument) -> str | None:
    try:
        title = " ".join(tidy_text(str(document.get_metadata_value("Title"))).split())
    except pdfium.PdfiumError:
        return None
    return title or None


def pdf_sections(path: Path) -> Iterator[TextSection]:
    _check_header(path)
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise _open_error(path, exc) from exc
    except OSError as exc:  # gone since the header was read
        raise ExtractionError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        title = _metadata_title(document)
        pages = len(document)
        yielded = 0
        unreadable: list[int] = []
        image_only = 0
        for index in range(pages):
            number = index + 1
            try:
                page = document[index]
            except pdfium.PdfiumError as exc:
                # One broken page should not hide the rest of a long document.
                logger.warning("%s: page %d cannot be read, skipped: %s", path.name, number, exc)
                unreadable.append(number)
                continue
            try:
                textpage = page.get_textpage()
                try:
                    text = tidy_text(textpage.get_text_bounded().replace(_LINE_END_HYPHEN, ""))
                finally:
                    textpage.close()
                if text.strip():
                    yielded += 1
                    yield TextSection(text=text, page=number, record=None, title=title)
                elif _has_images(page):
                    image_only += 1
            except pdfium.PdfiumError as exc:
                logger.warning(
                    "%s: text of page %d cannot be read, skipped: %s", path.name, number, exc
                )
                unreadable.append(number)
            finally:
                page.close()
        if yielded == 0:
            if unreadable and len(unreadable) == pages:
                raise ExtractionError(path, "corrupt PDF: none of its pages can be read")
            if image_only:
                raise ExtractionError(
                    path,
                    f"PDF has no extractable text: {image_only} of {pages} pages hold only images "
                    "(a scanned document needs OCR)",
                )
            raise ExtractionError(path, "no text found: the PDF's pages are empty")
        if unreadable:
            logger.warning(
                "%s: %d of %d pages could not be read: %s",
                path.name,
                len(unreadable),
                pages,
                unreadable,
            )
    finally:
        document.close()
