import json
from pathlib import Path

import pytest

from gateway.ingest.documents import SourceFile
from gateway.ingest.readers import read_file
from gateway.ingest.sources import discover
from tests.fixtures.ingest.support import DOCS, make_pdf


def source(path: Path) -> SourceFile:
    return SourceFile(path=path, rel=path.name)


def test_text_file_is_one_document_with_normalised_newlines(tmp_path: Path) -> None:
    """A .txt file becomes one document; CRLF becomes LF and a BOM is dropped."""
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffline one\r\nline two\r\n".encode())
    documents, problems = read_file(source(path))
    assert problems == []
    assert [d.text for d in documents] == ["line one\nline two\n"]


def test_markdown_title_comes_from_the_first_heading() -> None:
    """A Markdown document's title hint is its first level-one heading."""
    documents, _ = read_file(source(DOCS / "handbook" / "vacation.md"))
    assert documents[0].title_hint == "Vacation policy"
    assert "28 paid vacation days" in documents[0].text


def test_html_keeps_visible_text_only() -> None:
    """HTML yields the visible text: no script, style, head or hidden elements."""
    documents, problems = read_file(source(DOCS / "security" / "runbook.html"))
    assert problems == []
    text = documents[0].text
    assert documents[0].title_hint == "Security incident runbook"
    assert "Page the on-call engineer, Marcus Lindqvist, at +1 212-555-0147." in text
    assert "Rotate the break-glass vault credentials.\n\nRevoke" in text
    for hidden in ("tracking-snippet", "never indexed", "font-family", "internal draft"):
        assert hidden not in text


def test_jsonl_reads_one_document_per_line_and_reports_bad_lines(tmp_path: Path) -> None:
    """Good JSONL lines become documents; each bad line is reported with its number."""
    path = tmp_path / "records.jsonl"
    lines = [
        json.dumps({"doc_id": "a", "text": "first"}),
        "{not json",
        "",
        json.dumps(["a", "list"]),
        json.dumps({"doc_id": "b"}),
        json.dumps({"doc_id": "c", "text": "third", "classification": "public"}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    documents, problems = read_file(source(path))
    assert [(d.line, d.text, dict(d.record)) for d in documents] == [
        (1, "first", {"doc_id": "a"}),
        (6, "third", {"doc_id": "c", "classification": "public"}),
    ]
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (2, "invalid JSON"),
        (4, "expected a JSON object"),
        (5, '"text" is missing or not a string'),
    ]


def test_generated_pdf_text_layer_is_read(tmp_path: Path) -> None:
    """A PDF's pages are read from its text layer, separated by a blank line."""
    path = make_pdf(
        tmp_path / "report.pdf", ["Quarterly numbers are up.", "Page two."], title="Q3 report"
    )
    documents, problems = read_file(source(path))
    assert problems == []
    assert documents[0].text == "Quarterly numbers are up.\n\nPage two."
    assert documents[0].title_hint == "Q3 report"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.4\nthis is not really a PDF", "not a readable PDF"),
        (b"", "not a readable PDF"),
    ],
)
def test_corrupt_pdf_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    """A corrupt PDF is reported by type, never with bytes of the file."""
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    documents, problems = read_file(source(path))
    assert documents == []
    assert len(problems) == 1
    assert problems[0].message.startswith(message)
    assert "really" not in problems[0].message


def test_encrypted_pdf_needs_a_password(tmp_path: Path) -> None:
    """A PDF locked with a user password is refused as encrypted."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="locked text")
    path = tmp_path / "locked.pdf"
    path.write_bytes(bytes(pdf.output()))
    documents, problems = read_file(source(path))
    assert documents == []
    assert [p.message for p in problems] == ["encrypted PDF: it needs a password"]


def test_pdf_without_text_layer_is_reported(tmp_path: Path) -> None:
    """A PDF with no text (a scan) is an error, not an empty document."""
    path = make_pdf(tmp_path / "scan.pdf", [""])
    _, problems = read_file(source(path))
    assert problems[0].message.startswith("no text layer")


def test_undecodable_text_names_the_byte(tmp_path: Path) -> None:
    """A text file that is not UTF-8 is reported with the offending byte offset."""
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    _, problems = read_file(source(path))
    assert [p.message for p in problems] == ["not valid UTF-8 (byte 3)"]


def test_unsupported_and_unreadable_files_are_reported(tmp_path: Path) -> None:
    """Unsupported extensions and unreadable paths each give a per-file problem."""
    docx = tmp_path / "memo.docx"
    docx.write_bytes(b"PK")
    folder_named_txt = tmp_path / "folder.txt"
    folder_named_txt.mkdir()
    _, unsupported = read_file(source(docx))
    _, unreadable = read_file(source(folder_named_txt))
    assert unsupported[0].message.startswith("unsupported file type '.docx'")
    assert unreadable[0].message.startswith("cannot read file")


def test_empty_document_is_an_error(tmp_path: Path) -> None:
    """A file with only whitespace has nothing to index and says so."""
    path = tmp_path / "blank.md"
    path.write_text("  \n\n", encoding="utf-8")
    _, problems = read_file(source(path))
    assert [p.message for p in problems] == ["no text to index"]


def test_discover_walks_folders_sorted_and_skips_hidden_and_excluded(tmp_path: Path) -> None:
    """Folders are walked in order; hidden entries and the manifest are left out."""
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/z.md", "a.txt", ".hidden.txt", ".git/config.txt", "manifest.yaml"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = discover([tmp_path, tmp_path / "a.txt"], exclude=[tmp_path / "manifest.yaml"])
    assert [f.rel for f in found] == ["a.txt", "b/z.md"]
