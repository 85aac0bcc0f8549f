"""Plain encodings the decoder undoes: wrapped, spaced, other alphabets and charsets."""

import base64
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.finetune.decode import hidden_texts

SECRET = "Severity 1 incidents page the on-call security engineer immediately."
UTF8 = SECRET.encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "encoded",
    [
        *("\n".join(textwrap.wrap(b64(UTF8), width)) for width in (8, 13, 16, 23, 76)),
        "see below:\r\n  " + "\r\n  ".join(textwrap.wrap(b64(UTF8), 16)) + "\r\nthanks",
        "\n".join(textwrap.wrap(UTF8.hex(), 23)),
        " ".join(f"{byte:02x}" for byte in UTF8),
        ", ".join(f"0x{byte:02X}" for byte in UTF8),
        ":".join(f"{byte:02x}" for byte in UTF8),
        SECRET.encode("utf-16-be").hex(),
        b64(SECRET.encode("utf-16")),
        "".join(f"&#{ord(c)};" for c in SECRET),
        "".join(f"&#x{ord(c):x};" for c in SECRET),
        base64.b32encode(UTF8).decode(),
        base64.b32encode(UTF8).decode().rstrip("="),
    ],
    ids=lambda encoded: encoded[:12],
)
def test_plainly_encoded_text_is_decoded(encoded: str) -> None:
    """Base64 or hex wrapped at any width, hex bytes with separators or ``0x``, UTF-16,
    HTML character references and base32 all give the text back."""
    assert any(SECRET in text for text in hidden_texts(encoded))


@pytest.mark.parametrize(
    "ordinary",
    [
        "The cafe is on floor 3; rooms ab, cd and ef are booked, be ad de fa ce.",
        "implementation\nconfiguration\nrefactoring\nperformance",
        "Use &amp; and &lt; in HTML, or &#169; once.",
        " ".join(f"{byte:02x}" for byte in bytes(range(40))),
        "\n".join(textwrap.wrap(b64(bytes(range(120))), 16)),
    ],
)
def test_prose_and_binary_give_no_hidden_text(ordinary: str) -> None:
    """Words that happen to be hex or base64 letters, a few character references and
    wrapped binary data are not reported as hidden text."""
    assert hidden_texts(ordinary) == []


@given(st.binary(min_size=24, max_size=200), st.integers(4, 40))
def test_wrapped_binary_never_raises(raw: bytes, width: int) -> None:
    """Any bytes wrapped as base64 or spaced hex decode without error."""
    hidden_texts("\n".join(textwrap.wrap(b64(raw), width)))
    hidden_texts(" ".join(f"0x{byte:02x}" for byte in raw))
