"""How the scan reads each kind of upload: JSONL, text in any encoding, PDF, binary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import BadRequest
from gateway.finetune import file_text
from gateway.finetune.scan import check_format, read_examples

from ...fixtures.ingest.support import make_pdf
from .test_file_text import PASSAGE, image_like


def scanned_text(content: bytes, purpose: str = "assistants") -> tuple[str, str]:
    read = read_examples(content, purpose)
    return read.format, "\n".join(text for example in read.examples for text in example.texts)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "cp1252"])
def test_text_in_any_encoding_is_read_as_text(encoding: str) -> None:
    """A plain-text upload is text whatever its encoding."""
    found, text = scanned_text((PASSAGE + " It\u2019s due.\n").encode(encoding) * 30)
    assert found == "text"
    assert PASSAGE in text


def test_a_pdf_is_read_through_its_text_layer(tmp_path: Path) -> None:
    """A PDF's text is scanned (its streams are compressed: no run would show it)."""
    found, text = scanned_text(make_pdf(tmp_path / "a.pdf", [PASSAGE]).read_bytes())
    assert found == "pdf"
    assert " ".join(PASSAGE.split()) in " ".join(text.split())


@pytest.mark.parametrize("payload", [PASSAGE.encode(), PASSAGE.encode("utf-16-le")])
def test_a_binary_file_is_matched_by_its_readable_runs(payload: bytes) -> None:
    """An image carrying text uncompressed is binary, and that text is scanned."""
    found, text = scanned_text(image_like(b"\x00" + payload + b"\x00"), "vision")
    assert found == "binary"
    assert PASSAGE in text


def test_an_unreadable_pdf_is_binary() -> None:
    """A PDF without a readable text layer (damaged, encrypted) is binary."""
    assert read_examples(
        b"%PDF-1.7\n\x00\x01\x02" + bytes(range(256)) * 8, "assistants"
    ).format == ("binary")


def test_jsonl_purposes_need_utf8_jsonl() -> None:
    """Training, batch and evals files are UTF-8 JSONL: anything else is a 400."""
    line = json.dumps({"messages": [{"role": "user", "content": PASSAGE}]}) + "\n"
    with pytest.raises(BadRequest):
        read_examples(line.encode("utf-16"), "fine-tune")
    assert read_examples(line.encode(), "evals").format == "jsonl"


def test_check_format_reads_only_what_can_be_a_400(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload's synchronous check parses JSONL (bad lines are answered at once) and
    leaves PDFs and other files to the background scan."""

    def no_pdf(content: bytes) -> str:
        raise AssertionError("read synchronously")

    monkeypatch.setattr(file_text, "pdf_text", no_pdf)
    check_format(b"%PDF-1.7\n\x00\x01", "assistants")
    with pytest.raises(BadRequest):
        check_format(b'{"a": 1}\n{"a": \n', "assistants")


def test_bytes_after_a_small_pdf_are_read_too(tmp_path: Path) -> None:
    """A valid PDF head, then plain text: the text after it is scanned as well."""
    head = make_pdf(tmp_path / "a.pdf", ["Team lunch on Friday."]).read_bytes()
    found, text = scanned_text(head + b"\n" + PASSAGE.encode() * 3)
    assert found == "pdf"
    assert PASSAGE in text


def test_a_utf8_tail_after_a_utf16_head_is_read_too() -> None:
    """The encoding guessed from the head would garble a tail in another: the file's
    readable runs are matched as well."""
    head = ("Ordinary notes about the week. " * 200).encode("utf-16")
    found, text = scanned_text(head + b"\n" + PASSAGE.encode() * 3)
    assert found == "text"
    assert PASSAGE in text


async def test_a_pdf_is_read_in_the_helper_and_given_up_after_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pypdf is pure Python, and a small hostile PDF can take minutes: the text layer is
    read in the helper process; past ``PDF_SECONDS`` the file is unreadable (binary,
    the policy's call), and nothing waits on it."""
    from gateway.finetune import scan as scan_module
    from gateway.finetune.helpers import ScanHelpers

    pdf = make_pdf(tmp_path / "a.pdf", [PASSAGE]).read_bytes()
    async with ScanHelpers(1, nice=0) as helper:
        scanner = scan_module.UploadScanner(None, None, helper=helper)  # type: ignore[arg-type]
        layer = await scanner._pdf_layer(pdf, "assistants")
        assert isinstance(layer, str)
        assert " ".join(PASSAGE.split()) in " ".join(layer.split())
        monkeypatch.setattr(scan_module, "PDF_SECONDS", 0.0)
        assert await scanner._pdf_layer(pdf, "assistants") is None
    assert read_examples(pdf, "assistants", None).format == "binary"
