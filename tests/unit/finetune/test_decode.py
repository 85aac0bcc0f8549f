"""Plain encodings the decoder undoes (wrapped, spaced, other alphabets and charsets),
and blob decoding that looks only at the runs where a blob can be."""

import base64
import binascii
import gzip
import json
import textwrap
import zlib
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import decode
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
        "Attachment\n" + "\n".join(textwrap.wrap(b64(UTF8), 20)),
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


def _blobs_before(text: str) -> Iterator[str]:
    """``decode._blobs`` over the whole text, as at f15b267 (with base32 since)."""
    if decode._BLOB_RUN not in text.encode("utf-8", "surrogatepass").translate(decode._BLOB_MARKS):
        return
    for match in decode._HEX.finditer(text):
        decoded = decode._text(bytes.fromhex(match.group()))
        if decoded is not None:
            yield decoded
    for match in decode._BASE64.finditer(text):
        blob = match.group().rstrip("=")
        if decode._HEX.fullmatch(blob):
            continue
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = (
                base64.urlsafe_b64decode(padded)
                if "-" in blob or "_" in blob
                else base64.b64decode(padded, validate=True)
            )
        except (binascii.Error, ValueError):
            raw = b""
        decoded = decode._text(raw) if raw else None
        if decoded is None and decode._BASE32.fullmatch(blob):
            decoded = decode._base32(blob)
        if decoded is not None:
            yield decoded


_SECRET = st.text(alphabet="abc xyz.é\n", min_size=10, max_size=40)
_PIECE = st.one_of(
    _SECRET.map(lambda s: base64.b64encode(s.encode()).decode()),
    _SECRET.map(lambda s: base64.urlsafe_b64encode(s.encode()).decode()),
    _SECRET.map(lambda s: s.encode().hex()),
    st.sampled_from(["toggle_code_context_event", "a-b_c", "==", "+/", " ", ".", "é", "\u200b"]),
    st.text(alphabet="AZaz09+/=_-. ü", max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECE, max_size=8).map("".join))
def test_blobs_of_the_runs_are_the_blobs_of_the_whole_text(text: str) -> None:
    """The same decoded blobs, in the same order, ASCII text or not."""
    marks = text.encode("utf-8", "surrogatepass").translate(decode._BLOB_MARKS)
    runs = decode._blob_runs(text, marks) if decode._BLOB_RUN in marks else []
    assert list(decode._blobs(runs)) == list(_blobs_before(text))


def test_a_huge_string_still_gives_its_blob() -> None:
    """Layers of the whole text (escapes, references) of a string near the budget do not
    crowd out the blob at its end."""
    filler = "plain words \\u0041 and &#65;&#66;&#67;&#68; " * 100_000
    assert any(SECRET in text for text in hidden_texts(filler + " " + b64(UTF8)))


@pytest.mark.parametrize("width", [10, 14, 18, 22])
def test_a_wrapped_blob_that_starts_after_other_text_is_decoded(width: int) -> None:
    """``data: <base64>`` wrapped at a width that leaves the blob off its alignment: the
    text from the second line on is still read (the first line's few bytes are lost)."""
    wrapped = "\n".join(textwrap.wrap("data: " + b64(UTF8), width))
    assert any(SECRET[width:] in text for text in hidden_texts(wrapped))


def words_of(text: str) -> list[str]:
    return "".join(c if c.isalpha() else " " for c in text).split()


@pytest.mark.parametrize(
    "encoded",
    [
        " ".join(f"{word}{i % 10}" for i, word in enumerate(SECRET.split())),
        " ".join(f"{i}:{word}" for i, word in enumerate(SECRET.split())),
        " ".join(f"({i}) {word}" for i, word in enumerate(SECRET.split())),
        quote(SECRET),
        quote(SECRET, safe=""),
        b64(gzip.compress(UTF8)),
        b64(zlib.compress(UTF8)),
        json.dumps([ord(c) for c in SECRET]),
        json.dumps(list(SECRET.encode("utf-8"))),
    ],
)
def test_numbered_quoted_compressed_and_listed_text_is_decoded(encoded: str) -> None:
    """A number beside every word, ``urllib.parse.quote``, base64 of gzip or zlib, a
    JSON list of code points: some layer holds the passage's words in order."""
    wanted = words_of(SECRET)
    assert any(words_of(layer) == wanted for layer in hidden_texts(encoded))


@pytest.mark.parametrize(
    "ordinary",
    [
        "Release 1.4.2 fixed 3 bugs in 2 modules; 5 tests and 7 docs changed for 9 users.",
        "| 2026-01 | 4411 | 3 | 12.50 | 99 | 7 | 8 | 10 | 11 | 12 | 13 | 14 |",
        "Invoice 4411 for 3 units at 12.50 EUR, due 2026-03-01, PO 88123, ref 7 of 9.",
        "See https://example.org/a%20b for the spec, section 4.",
    ],
)
def test_ordinary_numbers_and_urls_add_no_layer(ordinary: str) -> None:
    """Tables, figures and a URL with one escape are read as they are: no layer."""
    assert hidden_texts(ordinary) == []


def test_a_compression_bomb_inflates_to_the_budget_at_most() -> None:
    """Decompression stops at ``MAX_HIDDEN_CHARS``."""
    bomb = b64(zlib.compress(b"a b c " * 10_000_000))
    assert sum(map(len, hidden_texts(bomb))) <= decode.MAX_HIDDEN_CHARS


@pytest.mark.parametrize("start", ["HK", "x ", "80", "x^"])
def test_text_that_starts_like_a_zlib_header_is_still_decoded(start: str) -> None:
    """Two printable characters can form a valid zlib header: when the bytes do not
    inflate, the blob's text is kept as it is."""
    text = start + " team, the quarterly merger plan with Acme remains confidential."
    assert text in hidden_texts(b64(text.encode()))


def test_many_compression_bombs_in_one_string_cost_little() -> None:
    """A blob that inflates far more than text does is not inflated: forty of them in
    one string give nothing (each would be 4 MB to check)."""
    bomb = b64(zlib.compress(bytes(4_000_000)))
    assert hidden_texts(" ".join([bomb] * 40)) == []


def tagged(text: str) -> str:
    """``text`` in Unicode tag characters (each ASCII character plus 0xE0000)."""
    return "".join(chr(0xE0000 + ord(c)) for c in text)


def regional(text: str) -> str:
    """``text``'s letters as regional-indicator symbols (U+1F1E6 is a)."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in text)


def grouped(blob: str, size: int) -> str:
    return " ".join(blob[i : i + size] for i in range(0, len(blob), size))


@pytest.mark.parametrize(
    "encoded",
    [
        "Sure. " + tagged(SECRET),
        regional(SECRET.lower()),  # the letters a to z
        base64.b85encode(UTF8).decode(),
        base64.a85encode(UTF8).decode(),
        base64.a85encode(UTF8, adobe=True).decode(),
        binascii.b2a_qp(UTF8, quotetabs=True).decode(),
        binascii.b2a_qp(UTF8 * 3, quotetabs=True).decode(),
        grouped(b64(UTF8), 8),
        grouped(b64(UTF8), 20),
        " ".join(b64(word.encode()) for word in SECRET.split()),
        " ".join(word.encode().hex() for word in SECRET.split()),
    ],
)
def test_tag_characters_quoted_printable_and_cut_blobs_are_decoded(encoded: str) -> None:
    """Tag characters, regional-indicator letters, Base85 and Ascii85, quoted-printable
    (soft line breaks too), base64 cut into spaced groups, base64 or hex word by word:
    some layer holds the passage's words in order."""
    wanted = words_of(SECRET.lower())  # regional indicators have no case
    assert any(words_of(layer.lower())[-len(wanted) :] == wanted for layer in hidden_texts(encoded))


def test_json_layers_carry_values_not_keys() -> None:
    """A JSON string's layer reads its values without the keys between them; a key of
    several words is text, kept as a layer of its own."""
    long_key = "the quarterly merger plan stays confidential"
    layers = hidden_texts(json.dumps({"part": "a b c", "next": ["d e f"], long_key: 1}))
    assert layers == ["a b c\nd e f", long_key]


@pytest.mark.parametrize(
    "ordinary",
    [
        "x=1 y=2 a==b c=3D d=FF e=AA f=10 g=20 total=30 and so on for the config values",
        "set A=0A B=1F C=2E D=3D E=4C F=5A G=6B H=7C",
        " ".join(f"{n:08x}" for n in range(1_000_003, 1_000_900, 97)),
        "ids 123e4567-e89b-12d3-a456-426614174000 9f1c2d3e-aaaa-4bbb-8ccc-0123456789ab",
        "png iVBORw0KGgoAAAANSUhEUgAA AAEAAAABCAYAAAAfFcSJ"
        " AAAADUlEQVR42mNkYPhf DwAChwGA60e6kgAAAABJ",
        "this is a plain sentence with only words and no punctuation at all really",
        "international corporation headquarters relocation announcement tomorrow",
    ],
)
def test_equals_signs_hashes_ids_and_image_data_add_no_layer(ordinary: str) -> None:
    """Ordinary ``=`` signs, short hex ids, UUIDs, image data cut into groups and plain
    words are read as they are: no quoted-printable, grouped or per-word layer."""
    assert hidden_texts(ordinary) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab 1234\u0663\u0664\u00e9-\n", max_size=60))
def test_the_digit_count_shortcut_agrees_with_counting_numbers(text: str) -> None:
    """An ASCII text with few digits skips the count of numbers with the same answer;
    other digits (Arabic-Indic) are still counted by the pattern."""
    counted = len(decode._DIGITS.findall(text, 0, 1 << 16)) >= decode._MIN_NUMBERED
    assert decode._numbered(text, text.encode("utf-8", "surrogatepass")) == counted


def _every_base85_decoding(raw: bytes, marks: bytes) -> Iterator[str]:
    """``decode._base85`` as it was: both decoders tried on every run."""
    for match in decode._MARKED_RUN.finditer(marks):
        run = raw[match.start() : match.end()]
        if not run.translate(None, decode._BLOB_BYTES):
            continue
        for decoder in (base64.b85decode, decode._ascii85):
            try:
                decoded = decode._text(decoder(run))
            except ValueError:
                continue
            if decoded is not None:
                yield decoded
                break


_BASE85_TEXT = st.lists(
    st.sampled_from(
        [
            *(chr(c) for c in sorted({*decode._BASE85_BYTES, *decode._ASCII85_BYTES})),
            " ",
            "<~",
            "~>",
            base64.b85encode(UTF8).decode(),
            base64.a85encode(UTF8).decode(),
            base64.a85encode(UTF8, adobe=True).decode(),
        ]
    ),
    max_size=80,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_BASE85_TEXT)
def test_base85_runs_skip_only_decoders_that_would_refuse_them(text: str) -> None:
    """Leaving out a decoder whose alphabet lacks a character of the run finds the same
    decodings as trying both on every run."""
    raw = text.encode()
    marks = raw.translate(decode._BASE85_MARKS)
    assert list(decode._base85(raw, marks)) == list(_every_base85_decoding(raw, marks))


def _every_word_without_digits(text: str) -> Iterator[str]:
    """``decode._without_digits`` as it was: every word looked at."""
    words = text.split()
    numbered = sum(1 for word in words if decode._numbered_at_edges(word))
    if numbered < decode._MIN_NUMBERED or numbered * 2 < len(words):
        return
    if sum(1 for word in words if decode._LETTER.search(word)) * 2 >= numbered:
        yield decode._DIGITS.sub("", text)


_NUMBERED_TEXT = st.lists(
    st.sampled_from(["word", "3", "17:", "(4)", "x9", "9x", "a1b", "1 2", "٣", "--", "\u2028"]),
    max_size=40,
).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(_NUMBERED_TEXT)
def test_texts_with_too_few_numbers_skip_the_word_by_word_look(text: str) -> None:
    """Counting runs of digits first leaves the digit-free layer as it was."""
    assert list(decode._without_digits(text)) == list(_every_word_without_digits(text))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"a" * 23, b"a" * 24, b"a" * 30, b" ", b"\n"]), max_size=40))
def test_marked_runs_are_where_the_run_pattern_matches(parts: list[bytes]) -> None:
    """The substring search finds the runs of blob marks the pattern finds, in order,
    whatever their lengths and the separators between them."""
    marks = b"".join(parts)
    found = [match.span() for match in decode._MARKED_RUN.finditer(marks)]
    assert list(decode.marked_runs(marks)) == found
