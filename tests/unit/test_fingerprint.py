"""Content fingerprints: stable, edit-tolerant, and discriminating."""

from hypothesis import given
from hypothesis import strategies as st

from gateway.fingerprint import WINDOW, K, fingerprints, kgram_hashes, normalize, winnow

PASSAGE = (
    "Contain first: revoke exposed credentials, isolate affected hosts, and snapshot "
    "volumes for forensics before rebuilding them."
)


def test_normalize_drops_case_punctuation_and_spacing() -> None:
    """Case, punctuation and whitespace do not survive normalisation."""
    assert normalize("Contain  FIRST:\nrevoke-exposed, creds!") == [
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


def test_fingerprints_are_stable_signed_longs() -> None:
    """Values fit Elasticsearch's long and do not depend on the process (no hash seed)."""
    prints = fingerprints(PASSAGE)
    assert prints == sorted(set(prints))
    assert all(-(2**63) <= value < 2**63 for value in prints)
    assert fingerprints("hello world") == [fingerprints("Hello, world!")[0]]


def test_unrelated_text_shares_nothing() -> None:
    """Different text of the same length has disjoint fingerprints."""
    other = "Request vacation in the HR portal at least two weeks in advance of the trip."
    assert not set(fingerprints(PASSAGE)) & set(fingerprints(other))


def test_empty_text_has_no_fingerprints() -> None:
    """No words, no fingerprints."""
    assert fingerprints(" ,.; ") == []


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), min_size=K + WINDOW))
def test_any_shared_passage_of_k_plus_w_minus_1_words_shares_a_fingerprint(
    words: list[str],
) -> None:
    """Winnowing's guarantee: a shared run of K + WINDOW - 1 words always matches."""
    run = words[: K + WINDOW - 1]
    inside = set(winnow(kgram_hashes(["x", "y", *run, "z"])))
    alone = set(winnow(kgram_hashes(run)))
    assert inside & alone
