"""Checksum identifiers score in full only in their usual form or near a word naming them."""

import pytest

from gateway.pii.identifier_forms import UNUSUAL_FORM_SCORE, by_form, whole_tokens
from gateway.pii.types import PiiSpan


def _score(text: str, value: str, kind: str) -> float:
    start = text.index(value)
    span = PiiSpan(type=kind, start=start, end=start + len(value), score=1.0)
    (out,) = by_form(text, [span])
    return out["score"]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("On file: 4111 1111 1111 1111.", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("On file: 3782-822463-10005.", "3782-822463-10005", "CREDIT_CARD"),
        ("Visa 4111111111111111", "4111111111111111", "CREDIT_CARD"),
        ("4111111111111111,04/28,123", "4111111111111111", "CREDIT_CARD"),
        ("card_number=4000123412341234", "4000123412341234", "CREDIT_CARD"),
        ("Patient 943 476 5919 seen", "943 476 5919", "UK_NHS"),
        ("NHS no: 9434765919", "9434765919", "UK_NHS"),
        ("NHS ref 943-476-5919 on file", "943-476-5919", "UK_NHS"),
        ("Patient ref: 943 476 5919", "943 476 5919", "UK_NHS"),
        ("Order 4111 1111 1111 1111 paid", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("Pay DE89370400440532013000", "DE89370400440532013000", "IBAN_CODE"),
        ("Pay DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("Pay de89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("Pay de89370400440532013000", "de89370400440532013000", "IBAN_CODE"),
        ("Pay DE89-3704-0044-0532-0130-00", "DE89-3704-0044-0532-0130-00", "IBAN_CODE"),
        ("DEA number AB1234563", "AB1234563", "MEDICAL_LICENSE"),
    ],
)
def test_usual_forms_and_naming_words_keep_the_full_score(text: str, value: str, kind: str) -> None:
    """Grouped as printed, at the registered length, or named by a word nearby."""
    assert _score(text, value, kind) == 1.0


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("The SKU 4006381333931 is out.", "4006381333931", "CREDIT_CARD"),  # an EAN-13
        ("Transaction 4111111111111111 settled", "4111111111111111", "CREDIT_CARD"),
        ("on 11/16/2020 id 4111111111111111", "4111111111111111", "CREDIT_CARD"),
        ("ref DE12 4111 1111 1111 1111 ok", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("ordered cardboard 4111111111111111", "4111111111111111", "CREDIT_CARD"),
        ("ISBN-10 0306406152", "0306406152", "UK_NHS"),  # every ISBN-10 passes mod 11
        ("PO 4500012345 attached", "4500012345", "UK_NHS"),
        ("Ref XR12 3456 7890 1234 56", "XR12 3456 7890 1234 56", "IBAN_CODE"),
        ("Serial AB1234563 returned", "AB1234563", "MEDICAL_LICENSE"),
        ("Ref De89 3704 0044 0532 0130 00", "De89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("Ref DE89 3704-0044 0532 0130 00", "DE89 3704-0044 0532 0130 00", "IBAN_CODE"),
        ("last year's card\n\n4111111111111111", "4111111111111111", "CREDIT_CARD"),
        ("Item 943-476-5919 is back in stock.", "943-476-5919", "UK_NHS"),
        ("Part no. 943 476 5919 replaces it", "943 476 5919", "UK_NHS"),
        ("SKU: 943-476-5919 (12-pack)", "943-476-5919", "UK_NHS"),
    ],
)
def test_other_forms_without_a_word_score_under_the_fine_tune_bar(
    text: str, value: str, kind: str
) -> None:
    """A barcode, an ISBN-10, a PO or serial number passing a checksum by chance scores
    0.5; a word inside another ("cardboard") or across a blank line does not count."""
    assert _score(text, value, kind) == UNUSUAL_FORM_SCORE


def test_a_git_remote_is_not_an_email_address() -> None:
    """git@host:path is dropped; git@host as an address, and other addresses, stay."""
    remote = "Clone git@github.com:acme/app.git now"
    address = "Mail git@github.com: see above"
    span = PiiSpan(type="EMAIL_ADDRESS", start=6, end=20, score=1.0)
    assert by_form(remote, [span]) == []
    assert by_form(address, [PiiSpan(type="EMAIL_ADDRESS", start=5, end=19, score=1.0)])


def test_other_types_are_left_alone() -> None:
    """Phones, e-mails and others keep their scores."""
    span = PiiSpan(type="US_SSN", start=0, end=11, score=0.85)
    assert by_form("078-05-1120", [span]) == [span]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("commit 3fe2a0ff2208658c1d", "ff2208658", "MEDICAL_LICENSE"),
        ("id=a1b2AB1234563", "AB1234563", "MEDICAL_LICENSE"),
        ("token AB12345639x", "AB1234563", "MEDICAL_LICENSE"),
        ("blob 7e943476591", "943476591", "US_SSN"),
    ],
)
def test_an_identifier_cut_out_of_a_longer_token_is_dropped(
    text: str, value: str, kind: str
) -> None:
    """A hash, a UUID or a serial holds identifier-shaped runs by chance."""
    start = text.index(value)
    span = PiiSpan(type=kind, start=start, end=start + len(value), score=1.0)
    assert whole_tokens(text, [span]) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("DEA: AB1234563.", "AB1234563"),
        ("dea_no=AB1234563", "AB1234563"),
        ("(AB1234563)", "AB1234563"),
        ("AB1234563", "AB1234563"),
        ("ID#AB1234563/2024", "AB1234563"),
    ],
)
def test_an_identifier_between_separators_is_kept(text: str, value: str) -> None:
    start = text.index(value)
    span = PiiSpan(type="MEDICAL_LICENSE", start=start, end=start + len(value), score=1.0)
    assert whole_tokens(text, [span]) == [span]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("tel0612345678", "PHONE_NUMBER"),
        ("card4111111111111111", "CREDIT_CARD"),
        ("BTC1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "CRYPTO"),
    ],
)
def test_only_presidios_unchecked_patterns_need_a_token_of_their_own(text: str, kind: str) -> None:
    """A phone glued to its key is judged by its finder; a checksummed number does not
    pass by chance."""
    span = PiiSpan(type=kind, start=3, end=len(text), score=0.9)
    assert whole_tokens(text, [span]) == [span]
