import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.normalize import normalised, view_text


def test_ascii_text_needs_no_view() -> None:
    """Plain ASCII is analysed as it is (no copy, no map)."""
    assert normalised("Card 4111 1111 1111 1111") is None


def test_obfuscated_digits_become_ascii_and_map_back() -> None:
    """Fullwidth digits, zero-width spaces, soft hyphens, combining marks and Unicode
    dashes vanish from the view; a view span covers the original characters."""
    text = "SSN \uff15\uff13\uff16\u2010\u200b22\u00ad-8\u03011\u200d70!"
    view = normalised(text)
    assert view is not None
    assert view.text == "SSN 536-22-8170!"
    start = view.text.index("536")
    end = start + len("536-22-8170")
    orig_start, orig_end = view.to_original(start, end)
    assert text[orig_start:orig_end] == text[4:-1]


_chars = st.characters(codec="utf-8", exclude_categories=["Cs"])


@given(st.text(_chars, max_size=40), st.data())
def test_every_view_span_maps_inside_the_original(text: str, data: st.DataObject) -> None:
    """Any span of the view maps to an in-bounds, ordered range of the original whose
    visible characters are exactly those the view shows (modulo normalisation)."""
    view = normalised(text)
    if view is None:
        return
    assert len(view.origin) == len(view.text)
    assert list(view.origin) == sorted(view.origin)
    if not view.text:
        return
    start = data.draw(st.integers(0, len(view.text) - 1))
    end = data.draw(st.integers(start + 1, len(view.text)))
    orig_start, orig_end = view.to_original(start, end)
    assert 0 <= orig_start < orig_end <= len(text)
    again = normalised(text[orig_start:orig_end])
    shown = again.text if again is not None else text[orig_start:orig_end]
    assert _caseless_letters_as_breaks(view.text[start:end]) in _caseless_letters_as_breaks(shown)


def _caseless_letters_as_breaks(text: str) -> str:
    """``text`` with each letter of no case (``Lo``: CJK, kana, Thai...) a ";": the view
    writes such a letter so where it touches an ASCII letter or digit, which a slice of
    the original may no longer show."""
    return "".join(";" if unicodedata.category(c) == "Lo" else c for c in text)


@given(st.text(max_size=200))
def test_view_text_is_the_views_text(text: str) -> None:
    """``view_text`` gives exactly the text of ``normalised`` (the text itself if ASCII)."""
    view = normalised(text)
    assert view_text(text) == (text if view is None else view.text)


def test_tag_characters_read_as_the_ascii_they_stand_for() -> None:
    """Invisible Unicode tag characters ("ASCII smuggling") are their ASCII in the view,
    and a span found in them maps back over the tag characters themselves."""
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "jane.doe@corp-mail.net")
    text = f"Email {hidden} about it."
    view = normalised(text)
    assert view is not None
    assert view.text == "Email jane.doe@corp-mail.net about it."
    assert view_text(text) == view.text
    start = view.text.index("jane")
    assert view.to_original(start, start + len("jane.doe@corp-mail.net")) == (6, 6 + len(hidden))


def test_a_literal_escape_is_white_space_in_the_view() -> None:
    """A literal escape ("\\n", "\\t") in code or in JSON encoded twice is the white
    space it stands for: its letter joins no number to the word before, and a span maps
    back over whole escapes."""
    text = "msg = 'Anna\\n07911 123456\\tLeeds' \\\\"
    view = normalised(text)
    assert view is not None
    assert view.text == "msg = 'Anna\n07911 123456\tLeeds' \\\\"
    assert view_text(text) == view.text
    start = view.text.index("07911")
    assert view.to_original(start, start + 12) == (start + 1, start + 13)
    assert view.to_original(start - 1, start) == (start - 1, start + 1)
    assert normalised("C:\\\\ and 5\\\\") is None


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ('{"note": "call 07911\\u00a0123456"}', '{"note": "call 07911 123456"}'),
        ("Call \\u002B44 7911 123456", "Call +44 7911 123456"),
        ("b'\\x2b44 7911 123456'", "b'+44 7911 123456'"),
        (
            "https://x.org/?tel=%2B447911123456&to=anna%40mail.org",
            "https://x.org/?tel=+447911123456&to=anna@mail.org",
        ),
        ("<p>&#43;44&nbsp;7911&#x20;123456</p>", "<p>+44 7911 123456</p>"),
        ("digits \\uff10\\uff17\\u200b911", "digits 07911"),
        ("a pair \\ud83d\\ude00, a lone \\ud800 half", "a pair \U0001f600, a lone  half"),
    ],
)
def test_escaped_characters_are_what_they_stand_for(text: str, seen: str) -> None:
    """JSON, Python and C escapes, URL percent-encoding and HTML character references
    are decoded in the view (a hidden "+", space or "@" found), the decoded character
    viewed as any other (a fullwidth digit is its digit, a zero-width space nothing),
    and a span maps back over the whole escapes."""
    view = normalised(text)
    assert view is not None
    assert view.text == seen
    assert view_text(text) == seen
    if "+" in seen:
        start = seen.index("+")
        begin, end = view.to_original(start, start + 3)
        assert text[begin] in "\\%&"
        assert text[begin:end].endswith("44")


def test_ordinary_percent_and_ampersand_stay() -> None:
    """A percentage, "R&D" or a percent sign before letters is no escape."""
    assert normalised("up 20% in R&D, 100%zz & 5 %") is None


def test_a_span_ending_inside_an_expanded_escape_covers_the_whole_escape() -> None:
    """An escape whose character expands to several view characters ("\\u2488" is
    "1.") is covered whole by a span ending inside that expansion."""
    text = "Tel: 0791112345\\u2488 ok"
    view = normalised(text)
    assert view is not None
    start = view.text.index("0791")
    begin, end = view.to_original(start, start + 11)
    assert text[begin:end] == "0791112345\\u2488"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("我的号码是536-22-8726。谢谢", "我的号码;536-22-8726。谢谢"),
        ("社会保障番号は536-22-8726です。", "社会保障番号;536-22-8726;す。"),
        ("주민번호는 536-22-8726입니다", "주민번호는 536-22-8726;니다"),
        ("邮箱anna@example.com谢谢", "邮;anna@example.com;谢"),
        ("โทร0812345678ครับ", "โท;0812345678;รบ"),
    ],
)
def test_letters_of_spaceless_scripts_touching_ascii_are_spaces(text: str, shown: str) -> None:
    """A Chinese, Japanese, Korean or Thai letter right before or after an ASCII letter or
    digit is a ";" in the view, so the number or address is a token of its own (and no
    digit group of a longer one); offsets still map one to one."""
    view = normalised(text)
    assert view is not None
    assert view.text == shown
    assert view_text(text) == shown
    start = next(i for i, c in enumerate(shown) if c.isascii() and c.isalnum())
    assert view.to_original(start, start + 3) == (start, start + 3)


def test_letters_of_spaceless_scripts_away_from_ascii_stay() -> None:
    """CJK text without ASCII letters or digits in it is its own view."""
    text = "这是一个测试。没有数字。"
    view = normalised(text)
    assert view is not None
    assert view.text == text
