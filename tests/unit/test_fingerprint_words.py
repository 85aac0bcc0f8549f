"""The word split of a normalised form: a faster path for ASCII, the same words."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fingerprint import _BARS, _CONTROL, _without_controls, canonical, normalize, words_of

_WORD = re.compile(r"[^\W_]+")
# Every ASCII character (controls, underscore, punctuation, whitespace of every kind) and
# a few non-ASCII letters, digits and spaces that send a text down the regex path.
_ASCII = st.text(alphabet=st.characters(max_codepoint=127), max_size=200)
_ANY = st.text(
    alphabet=st.characters(max_codepoint=127) | st.sampled_from("é٣ß\u00a0\u2028_\u200b\uff21"),
    max_size=200,
)


@settings(max_examples=500, deadline=None)
@given(_ASCII | _ANY)
def test_words_are_the_regex_words(form: str) -> None:
    """``words_of`` gives ``[^\\W_]+``'s matches of any text, in order."""
    assert words_of(form) == _WORD.findall(form)


@settings(max_examples=200, deadline=None)
@given(_ASCII | _ANY)
def test_words_of_canonical_forms_are_the_regex_words(text: str) -> None:
    """The same on what the fingerprints actually split: normalised forms."""
    form = canonical(text)
    assert words_of(form) == _WORD.findall(form)


@settings(max_examples=500, deadline=None)
@given(_ASCII | _ANY)
def test_controls_and_bars_go_as_the_regexes_take_them(text: str) -> None:
    """The ASCII path before the skeleton gives what the two regex passes give."""
    assert _without_controls(text) == _BARS.sub("\u00a6", _CONTROL.sub("", text))


_HYPHENATED = st.lists(
    st.sampled_from(["re", "Stricted", "-", "--", " ", "\t", "\r\n", "\n", '"', "`", "|", "_"])
    | st.characters(max_codepoint=127),
    max_size=40,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_HYPHENATED | _ASCII | _ANY)
def test_the_ascii_words_are_the_words_of_the_canonical_form(text: str) -> None:
    """``normalize`` without the skeleton for ASCII text gives the words of the
    canonical form: hyphens across any whitespace, controls, quotes and case alike."""
    assert normalize(text) == words_of(canonical(text))
