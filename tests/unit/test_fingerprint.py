"""Content fingerprints: stable, edit-tolerant, disguise-proof and discriminating."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.fingerprint import (
    CHAR_K,
    CHAR_WINDOW,
    WORD_K,
    WORD_WINDOW,
    char_hashes,
    fingerprint_set,
    fingerprints,
    is_char_print,
    normalize,
    winnow,
    word_hashes,
)

PASSAGE = (
    "Contain first: revoke exposed credentials, isolate affected hosts, and snapshot "
    "volumes for forensics before rebuilding them."
)
HOMOGLYPHS = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u03bf", "p": "\u0440"})


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_normalize_drops_case_punctuation_and_spacing() -> None:
    """Case, punctuation and whitespace do not survive normalisation."""
    assert normalize("Contain  FIRST:\nrevoke, exposed creds!") == [
        "contain",
        "first",
        "revoke",
        "exposed",
        "creds",
    ]


def test_light_formatting_edits_keep_every_fingerprint() -> None:
    """The same words with other case, punctuation and spacing give the same fingerprints."""
    edited = PASSAGE.upper().replace(",", " ;").replace(" ", "   ")
    assert fingerprints(edited) == fingerprints(PASSAGE)


def test_disguises_keep_every_fingerprint() -> None:
    """Zero-width characters, soft hyphens, Cyrillic/Greek look-alikes, fullwidth letters,
    hyphenated line breaks and accents or strokes on letters do not change a single
    fingerprint."""
    disguised = [
        "\u200b".join(PASSAGE),
        "\u2060".join(PASSAGE),
        PASSAGE.replace("e", "e\u00ad"),
        PASSAGE.translate(HOMOGLYPHS),
        fullwidth(PASSAGE),
        PASSAGE.replace("credentials", "creden-\ntials").replace("forensics", "foren-sics"),
        PASSAGE.replace("e", "\u00e9").replace("o", "\u00f6").replace("i", "\u00ef"),
        PASSAGE.replace("e", "\u0117").replace("a", "\u00e0"),
        "".join(c + "\u0301" if c.isalpha() else c for c in PASSAGE),
        "".join(c + "\u0336" if c.isalpha() else c for c in PASSAGE),
    ]
    for text in disguised:
        assert fingerprints(text) == fingerprints(PASSAGE), text


def test_bars_between_words_are_separators_not_letters() -> None:
    """A markdown table of two-word cells, or bars between words, keep every fingerprint
    (TR39 alone reads each bar as the letter l, a word between every cell); a bar
    between two letters still reads as that letter."""
    words = PASSAGE.split()
    cells = [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]
    table = "| " + " |\n| ".join(" | ".join(cells[i : i + 2]) for i in range(0, len(cells), 2))
    for text in (table + " |", " | ".join(cells), " \uff5c ".join(cells), "\t|\t".join(cells)):
        assert fingerprints(text) == fingerprints(PASSAGE), text
    assert normalize("he||o wor|d") == ["hello", "world"]


def test_words_joined_without_spaces_keep_the_character_signal() -> None:
    """Without spaces the word k-grams are gone but every character shingle remains."""
    original = {fp for fp in fingerprint_set(PASSAGE) if is_char_print(fp)}
    joined = {fp for fp in fingerprint_set(PASSAGE.replace(" ", "")) if is_char_print(fp)}
    assert original
    assert original == joined


def test_fingerprints_are_stable_signed_longs() -> None:
    """Values fit Elasticsearch's long and do not depend on the process (no hash seed)."""
    prints = fingerprints(PASSAGE)
    assert prints == sorted(set(prints))
    assert all(-(2**63) <= value < 2**63 for value in prints)
    assert fingerprints("hello world") == fingerprints("Hello, world!")


def test_the_lowest_bit_tells_the_signals_apart() -> None:
    """Both signals are present, word prints even and character prints odd."""
    prints = fingerprint_set(PASSAGE)
    assert any(is_char_print(fp) for fp in prints)
    assert any(not is_char_print(fp) for fp in prints)


def test_unrelated_text_shares_nothing() -> None:
    """Different text of the same length has disjoint fingerprints."""
    other = "Request vacation in the HR portal at least two weeks in advance of the trip."
    assert not set(fingerprints(PASSAGE)) & set(fingerprints(other))


def test_empty_text_has_no_fingerprints() -> None:
    """No words, no fingerprints."""
    assert fingerprints(" ,.; ") == []


def test_lone_surrogates_do_not_crash() -> None:
    """A lone surrogate (from a JSON escape) is hashed, not an exception."""
    assert fingerprints("abc \ud800 def ghi jkl mno") == fingerprints("abc \ud800 def ghi jkl mno")


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), min_size=WORD_K + 3))
def test_any_shared_run_of_words_shares_a_fingerprint(words: list[str]) -> None:
    """Winnowing's guarantee: a shared run of K + WINDOW - 1 words always matches."""
    run = words[: WORD_K + WORD_WINDOW - 1]
    inside = set(winnow(word_hashes(["x", "y", *run, "z"]), WORD_WINDOW).tolist())
    alone = set(winnow(word_hashes(run), WORD_WINDOW).tolist())
    assert inside & alone


@given(st.text(alphabet="abcdefgh0123", min_size=CHAR_K + CHAR_WINDOW - 1))
def test_any_shared_run_of_characters_shares_a_fingerprint(stream: str) -> None:
    """The same guarantee for character shingles: CHAR_K + CHAR_WINDOW - 1 characters."""
    run = stream[: CHAR_K + CHAR_WINDOW - 1]
    inside = set(winnow(char_hashes("zz" + run + "yy"), CHAR_WINDOW).tolist())
    alone = set(winnow(char_hashes(run), CHAR_WINDOW).tolist())
    assert inside & alone


@given(
    st.text(min_size=1, max_size=300),
    st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]),
)
def test_invisible_characters_never_change_fingerprints(text: str, invisible: str) -> None:
    """Any text keeps its fingerprints with an invisible character after every letter."""
    spread = "".join(c + invisible if c.isalnum() else c for c in text)
    assert fingerprints(spread) == fingerprints(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=200))
def test_fullwidth_forms_never_change_fingerprints(text: str) -> None:
    """ASCII text and its fullwidth form have the same fingerprints."""
    assert fingerprints(fullwidth(text)) == fingerprints(text)


def test_word_hashes_of_short_text() -> None:
    """Fewer words than K still give one hash, distinct from a K-gram's."""
    assert len(word_hashes(["one", "two"])) == 1
    assert word_hashes(["one", "two"]).dtype == np.int64


@given(
    st.text(alphabet=st.characters(min_codepoint=0x61, max_codepoint=0x7A), max_size=100),
    st.sampled_from(["\u0301", "\u0300", "\u0308", "\u0327", "\u0332", "\u0336"]),
)
def test_combining_marks_never_change_fingerprints(text: str, mark: str) -> None:
    """Latin text keeps its fingerprints with a combining mark on every letter."""
    assert fingerprints("".join(c + mark for c in text)) == fingerprints(text)


def test_scripts_whose_signs_are_letters_keep_them() -> None:
    """Devanagari vowel signs and Hangul syllables are not stripped like accents."""
    assert normalize("हिन्दी") != normalize("हनद")
    assert normalize("한국어 문서") == ["한국어", "문서"]
