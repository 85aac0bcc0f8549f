"""One reader per file format: bytes in, documents (text plus hints) out.

A reader raises DocumentError for a file it cannot use; JSONL reports bad lines one by
one and keeps the good ones. Messages name the problem, never the file's content.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Callable
from typing import TypeVar

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from pypdf import PdfReader
from pypdf.errors import PdfReadWarning

from gateway.ingest.documents import DocumentError, Problem, RawDocument, SourceFile

_T = TypeVar("_T")
_Reader = Callable[[SourceFile, bytes], tuple[list[RawDocument], list[Problem]]]

_HTML_DROP = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
_HTML_BLOCKS = [
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
    "th", "tr", "ul",
]  # fmt: skip
_MD_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")
_BLANK_RUNS = re.compile(r"\n{3,}")


def read_file(source: SourceFile) -> tuple[list[RawDocument], list[Problem]]:
    """The documents in ``source`` and the problems that kept others out."""
    reader = READERS.get(source.path.suffix.lower())
    if reader is None:
        supported = ", ".join(sorted(READERS))
        message = f"unsupported file type {source.path.suffix or '(none)'!r} ({supported})"
        return [], [Problem(source.rel, message)]
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        return [], [Problem(source.rel, f"cannot read file: {exc.strerror or type(exc).__name__}")]
    try:
        return reader(source, data)
    except DocumentError as exc:
        return [], [Problem(source.rel, str(exc))]


def clean_text(text: str) -> str:
    """One newline convention, and no lone surrogates (JSON escapes can carry them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.encode("utf-8", errors="replace").decode("utf-8")


def _document(source: SourceFile, text: str, title: str | None = None) -> RawDocument:
    text = clean_text(text)
    if not text.strip():
        raise DocumentError("no text to index")
    return RawDocument(source=source, text=text, title_hint=title or None)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not valid UTF-8 (byte {exc.start})") from None


def read_text(source: SourceFile, data: bytes) -> tuple[list[RawDocument], list[Problem]]:
    return [_document(source, _decode(data))], []


def read_markdown(source: SourceFile, data: bytes) -> tuple[list[RawDocument], list[Problem]]:
    text = _decode(data)
    title = next(
        (m.group(1) for line in text.splitlines()[:50] if (m := _MD_HEADING.match(line))), None
    )
    return [_document(source, text, title)], []


def read_html(source: SourceFile, data: bytes) -> tuple[list[RawDocument], list[Problem]]:
    """Visible text: scripts, styles, the head and ``hidden`` elements are dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        tag.decompose()
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    text = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
    return [_document(source, text, title)], []


def read_pdf(source: SourceFile, data: bytes) -> tuple[list[RawDocument], list[Problem]]:
    """The PDF's text layer, pages separated by a blank line."""
    text, title = _pdf_text_and_title(data)
    return [_document(source, text, title)], []


def pdf_text(data: bytes) -> str:
    """The PDF's text layer, as ``read_pdf`` reads it (DocumentError when there is none)."""
    return clean_text(_pdf_text_and_title(data)[0])


def _pdf_text_and_title(data: bytes) -> tuple[str, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PdfReadWarning)
        reader = _pdf_call(lambda: PdfReader(io.BytesIO(data)))
        if _pdf_call(lambda: reader.is_encrypted) and not _decrypts_without_password(reader):
            raise DocumentError("encrypted PDF: it needs a password")
        pages = _pdf_call(lambda: [page.extract_text() or "" for page in reader.pages])
        title = _pdf_call(lambda: reader.metadata.title if reader.metadata else None)
    text = "\n\n".join(page.strip("\n") for page in pages)
    if not text.strip():
        raise DocumentError("no text layer (a scanned PDF needs OCR first)")
    return text, title


def _pdf_call(call: Callable[[], _T]) -> _T:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on malformed files
        # The type only: pypdf messages can quote bytes of the file.
        raise DocumentError(f"not a readable PDF ({type(exc).__name__})") from None


def _decrypts_without_password(reader: PdfReader) -> bool:
    """Many PDFs are 'encrypted' with an empty user password; those are readable."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - e.g. a missing AES backend: treat as locked
        return False


def read_jsonl(source: SourceFile, data: bytes) -> tuple[list[RawDocument], list[Problem]]:
    """One document per line: a JSON object with ``text`` and its own governance fields."""
    documents: list[RawDocument] = []
    problems: list[Problem] = []
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and friends.
    for number, line in enumerate(_decode(data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            documents.append(_jsonl_document(source, line, number))
        except DocumentError as exc:
            problems.append(Problem(source.rel, str(exc), line=number))
    if not documents and not problems:
        raise DocumentError("no documents in file")
    return documents, problems


def _jsonl_document(source: SourceFile, line: str, number: int) -> RawDocument:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise DocumentError("expected a JSON object")
    text = record.pop("text", None)
    if not isinstance(text, str):
        raise DocumentError('"text" is missing or not a string')
    document = _document(source, text)
    return RawDocument(source=source, text=document.text, line=number, record=record)


READERS: dict[str, _Reader] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".jsonl": read_jsonl,
    ".pdf": read_pdf,
}
