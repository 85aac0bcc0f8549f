import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.pii.identifier_forms import labelled
from gateway.pii.recognizers import (
    _Cover,
    _token_start,
    card_number,
    find_addresses,
    find_cards,
    find_ibans,
    find_phones,
    iban_valid,
    refine,
)
from gateway.pii.types import PiiSpan


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",  # Visa
        "5555-5555-5555-4444",  # Mastercard 5-series
        "2223 0031 2200 3222",  # Mastercard 2-series
        "3782 822463 10005",  # Amex 4-6-5
        "6011111111111117",  # Discover
        "3530 1113 3330 0000",  # JCB
        "3056 930902 5904",  # Diners 14 digits
        "6200000000000005",  # UnionPay
        "4111.1111.1111.1111",  # dots
    ],
)
def test_every_card_brand_and_grouping_is_found(number: str) -> None:
    """All brands' ranges, any grouping, one separator kind, Luhn-valid."""
    text = f"Pay with {number}, thanks"
    (span,) = find_cards(text)
    assert text[span["start"] : span["end"]] == number


@pytest.mark.parametrize(
    "candidate",
    ["4111 1111 1111 1112", "1234 5678 9012 3456", "0000 0000 0000 0000", "4111-1111 1111-1111"],
)
def test_non_cards_are_not_cards(candidate: str) -> None:
    """Bad checksum, unknown range, one repeated digit, mixed separators."""
    assert not card_number(candidate)


def test_addresses_with_and_without_city() -> None:
    """pyap2 finds full addresses; a bare street line still counts; the span starts at
    the house number, not at an earlier order number."""
    text = "order 77812345 shipped to 350 Fifth Avenue, New York, NY 10118 and 12 Main St. today"
    found = [text[s["start"] : s["end"]] for s in find_addresses(text)]
    assert "350 Fifth Avenue, New York, NY 10118" in found
    assert "12 Main St" in found
    assert not any("77812345" in f for f in found)


def test_no_address_pattern_no_parse() -> None:
    """Text without a house number and a street type costs one regex search."""
    assert find_addresses("Upgrade S3 and EKS to v2.14 next Monday") == []


def test_refine_trims_ner_guesses_to_words() -> None:
    """NER spans holding digits, e-mails or versions are trimmed or dropped."""
    text = "Paid by Visa 4193-7394-3055-4701 to LewisAbbott@teleworm.us on v2.14.3"
    spans = [
        PiiSpan(type="PERSON", start=8, end=32, score=0.85),
        PiiSpan(type="PERSON", start=36, end=59, score=0.85),
        PiiSpan(type="LOCATION", start=63, end=70, score=0.85),
        PiiSpan(type="EMAIL_ADDRESS", start=36, end=59, score=1.0),
    ]
    out = [(s["type"], text[s["start"] : s["end"]]) for s in refine(text, spans)]
    assert out == [("PERSON", "Visa"), ("EMAIL_ADDRESS", "LewisAbbott@teleworm.us")]


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "ES9121000418450200051332",
        # Issued outside SWIFT's registry: Iran, Morocco, Algeria, Angola, Madagascar,
        # the CFA franc zones.
        "IR710570029971601460641001",
        "MA64011519000001205000534921",
        "DZ580002100001113000000570",
        "AO06004400006729503010102",
        "MG4600005030010101914016056",
        "CM2110002000300277976315008",
        "SN08SN0100152000048500003035",
        "CI93CI0080111301134291200589",
        # Territories the registry includes in France's, Finland's and the UK's IBANs.
        "NC8420041010050500013M02606",
        "AX2112345600000785",
        "JE90NWBK60161331926819",
    ],
)
def test_ibans_compact_or_grouped(iban: str) -> None:
    """Any country's IBAN, compact or in groups of four, checked by mod 97."""
    text = f"IBAN: {iban} thanks"
    (span,) = find_ibans(text)
    assert text[span["start"] : span["end"]] == iban


@pytest.mark.parametrize(
    "iban", ["de89370400440532013000", "de89 3704 0044 0532 0130 00", "gb29nwbk60161331926819"]
)
def test_ibans_in_lower_case(iban: str) -> None:
    """An IBAN copied from a form or a URL in lower case is still one."""
    text = f"pay to iban {iban} thanks"
    (span,) = find_ibans(text)
    assert text[span["start"] : span["end"]] == iban


def test_a_lower_case_iban_grouped_or_in_its_format_needs_no_word() -> None:
    """Grouped in fours, or compact in its country's account format ("de" and 20
    digits), a lower-case IBAN is written as one; compact, of another format and with no
    word naming it, it is any token (one in 97 passes mod 97)."""
    assert len(find_ibans("pay to de89 3704 0044 0532 0130 00 thanks")) == 1
    assert len(find_ibans("pay to de89-3704-0044-0532-0130-00 thanks")) == 1
    assert len(find_ibans("pay to de89370400440532013000 thanks")) == 1
    assert find_ibans("request id ee40lel5bxf7qreocuck done") == []
    assert len(find_ibans("iban ee40lel5bxf7qreocuck done")) == 1


def test_an_iban_of_mixed_case_is_not_one() -> None:
    """Upper and lower case letters mixed make a token, not an IBAN (its check digits
    may still pass)."""
    assert find_ibans("token De89370400440532013000 ok") == []
    assert find_ibans("GB29nwbk60161331926819") == []


def test_an_iban_with_a_wrong_check_digit_is_not_one() -> None:
    """One changed digit fails mod 97."""
    assert find_ibans("DE88370400440532013000") == []


@pytest.mark.parametrize(
    "number",
    ["+44 20 7946 0958", "(415) 555-0134", "+49 30 901820", "001-396-780-6976", "3940261061"],
)
def test_phone_formats(number: str) -> None:
    """International, national and bare ten-digit forms are phone numbers."""
    text = f"He wrote {number} here"
    assert any(
        text[s["start"] : s["end"]] == number and s["score"] >= 0.4 for s in find_phones(text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "Escalated 1985-10-07 22:45:54,262 to the vendor.",
        "See 2275ffd4-95f7-462b-85d7-aba7eb9bb3ff in the notes.",
        "The dashboard shows $81575.71 for this account.",
        "See 1Z70013336970 in the release notes.",
        "Escalated INV-96317514 to the vendor.",
        "See order 54725013 in the release notes.",
        "Reference: [05/Jul/2002:14:58:11 +0000]",
    ],
)
def test_phone_look_alikes_are_not_acted_on(text: str) -> None:
    """Timestamps, UUIDs, prices, tracking and order numbers score under 0.4."""
    assert all(s["score"] < 0.4 for s in find_phones(text))


def test_a_context_word_lifts_a_bare_number() -> None:
    """'call 5550134' is a phone number because of the word before it."""
    (span,) = [s for s in find_phones("please call 4155550134 now") if s["score"] >= 0.4]
    assert span["score"] >= 0.75


@pytest.mark.parametrize(
    "text",
    [
        "The version string is 10.0.19041.1.",
        "Windows 11 build 22621.2861 is required.",
        "Version 1.22.3.4567 is the LTS build.",
        "Ticket 2024-118934 was closed.",
        "Invoice number 2024-00123 is overdue.",
        "Our PO number is 4500012345.",
        "The part number is 1234-5678-90.",
        "Batch 240517-03 failed QA.",
        "Contract 2025/0193 renews in March.",
        "The SKU 4006381333931 is out of stock.",
        "Build 97367.5454 fixed the driver.",
    ],
)
def test_reference_numbers_are_not_confident_phones(text: str) -> None:
    """Versions, tickets, invoices, part numbers and SKUs that happen to be valid in some
    region, grouped as no phone number is or bare, stay under 0.7 (the fine-tune policy's
    bar) without a phone word; "number" alone is not one."""
    assert all(s["score"] < 0.7 for s in find_phones(text))


@pytest.mark.parametrize(
    "text",
    [
        "Item 784-9912-16 is back in stock.",
        "Order 12-3456-7890 shipped today.",
        "Part no. 1234-567-890 replaces the old bracket.",
        "Reorder 784-991-2163 before Friday.",
        "Model: 212-555-0187 ships with the new firmware.",
        "SKU 34-5678-9012, 40 units left.",
    ],
)
def test_numbers_a_reference_word_names_are_not_confident_phones(text: str) -> None:
    """A product, part or order number named by the word right before it stays under the
    fine-tune bar (0.7), whatever region's phone grouping it happens to match."""
    found = find_phones(text)
    assert found
    assert all(s["score"] < 0.7 for s in found)


@pytest.mark.parametrize(
    "text",
    [
        "Call about order 212-555-0187 tomorrow.",
        "Ring the item desk, item 020 7946 0958.",
        "Order 12 shipped; my mobile is 212-555-0187.",
        "Contact details on file: 212-555-0187.",
        "Call about order +33 1 85 31 94 13.",
        "Customer ref: 07700 900123",
        "Order no. 07911 123456 paid in full.",
        "Ticket: 020 7946 0958",
        "Ref 07911 123456 (mobile)",
    ],
)
def test_a_phone_word_still_makes_a_labelled_number_a_phone(text: str) -> None:
    """A reference word right before the number does not spare it when a phone word is
    near, nor does one earlier in the line, nor one before a number with its country
    code or dialled with its trunk prefix in a phone's grouping (a customer keyed by
    their phone number)."""
    assert max(s["score"] for s in find_phones(text)) >= 0.7


@pytest.mark.parametrize(
    "text",
    [
        "The text covers the years 2019-2023.",
        "The handler is called 1000-2000 times per second.",
        "API calls from 2021-2024 are archived.",
        "See the text of RFC 2616-2617.",
        "Contact the team; ticket 2024-118934 tracks it.",
        "Call volume: builds 10.0.19041.1 and 10.0.22621.2 differ.",
        "Reach pages 120\u2013180 of the text.",
    ],
)
def test_a_phone_word_does_not_make_a_range_or_a_reference_a_phone(text: str) -> None:
    """ "call", "text", "contact" are ordinary words: a range of years, pages or RFCs is
    no phone number, and a number grouped as no phone is stays under the fine-tune bar
    (0.7) with one of them nearby."""
    assert all(s["score"] < 0.7 for s in find_phones(text))


@pytest.mark.parametrize(
    "text",
    [
        "Ship to ZIP 94105-1804 by Friday.",
        "Contact: 1 Market St, CA 94105-1804.",
        "Call us or write to PO Box 12, Austin, TX 78701-2047.",
        "Postal codes 28001-1234 and 94105-1804 are in the export.",
    ],
)
def test_zip_plus_four_codes_are_not_refusable_phones(text: str) -> None:
    """A US ZIP+4 code ("94105-1804") is often a valid Spanish number whose groups join
    to 5-4, but no one writes a phone so: under the fine-tune bar, phone word or not."""
    assert all(s["score"] < 0.7 for s in find_phones(text))


@pytest.mark.parametrize(
    "text",
    [
        "Dana Cohen, 050-1234567",
        "My number is 03-1234567.",
        "054-7654321",
        "050 1234567",
        "My number is 347 1234567.",
        "347/1234567",
        "020-1234567",
        "087-1234567",
        "(01) 2345678",
        "04 1234 5678",
        "Llame al 941 05 18 04 hoy.",
        "My number is 612 345 678.",
    ],
)
def test_area_code_then_the_rest_is_how_phones_are_written(text: str) -> None:
    """The area code and the subscriber number in one block (Israel, Italy, the
    Netherlands, Ireland, Australia) or Spain's own groups, with no phone word: a phone
    at or over the fine-tune bar."""
    assert max(s["score"] for s in find_phones(text)) >= 0.7


@pytest.mark.parametrize(
    "number", ["98-7654321", "123-456789", "941051-804", "9410518-04", "6123-45678"]
)
def test_a_phone_of_joined_groups_is_not_refusable(number: str) -> None:
    """Nine digits in two groups no region writes a phone in (a Spanish number's groups
    joined: an EIN, a ledger figure) stay under the fine-tune bar."""
    assert all(s["score"] < 0.7 for s in find_phones(f"The record shows {number} today."))


@pytest.mark.parametrize(
    "text", ["Llame al 941 05 18 04 hoy.", "Tel. 941 051 804", "Phone: +34 94105-1804"]
)
def test_spanish_numbers_as_written_are_still_phones(text: str) -> None:
    """The same digits written as a Spanish number is, or with the country code, stay a
    phone at or over the fine-tune bar."""
    assert max(s["score"] for s in find_phones(text)) >= 0.7


@pytest.mark.parametrize("text", ["The years 2019-2023.", "Pages 1000\u20132000."])
def test_ranges_are_not_phone_numbers_at_all(text: str) -> None:
    """Chat redacts phones at 0.4: a range is not one, in chat either."""
    assert find_phones(text) == []


@pytest.mark.parametrize(
    "number",
    [
        "(415) 555-0134",
        "415-555-0134",
        "415.555.0134",
        "020 7946 0958",
        "030 901820",
        "07911123456",
        "0301234567",
    ],
)
def test_numbers_grouped_as_phones_are_confident(number: str) -> None:
    """A valid number grouped as its region writes phone numbers, or written bare in a
    national length with its trunk prefix 0, scores 0.75 unprompted."""
    text = f"Write to {number} today."
    assert any(
        text[s["start"] : s["end"]] == number and s["score"] >= 0.75 for s in find_phones(text)
    )


@pytest.mark.parametrize("number", ["2025550143", "9876543210", "441632960961"])
def test_a_bare_number_without_a_trunk_prefix_needs_a_phone_word(number: str) -> None:
    """Bare digits without a leading 0 or + (as much a customer or order number, an
    ISBN-10 or a UPC) stay under 0.7 alone, and reach it after a phone word."""
    alone, called = f"Customer {number} was merged.", f"Call {number} today."
    assert all(s["score"] < 0.7 for s in find_phones(alone))
    assert any(
        called[s["start"] : s["end"]] == number and s["score"] >= 0.75 for s in find_phones(called)
    )


def test_an_iban_followed_by_words_ends_at_its_registered_length() -> None:
    """The greedy pattern takes "by Friday" along, and that longer string passes mod 97
    by chance: the country's registered length is tried first."""
    text = "Please pay the invoice to GB76EHXA46465737661123 by Friday."
    (span,) = find_ibans(text)
    assert text[span["start"] : span["end"]] == "GB76EHXA46465737661123"


_LINE_BREAKS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\v", "\f"]
_NUMBERS_ON_THEIR_LINE = [
    "+44 7911 123456",
    "07911 123456",
    "(415) 555-2671",
    "415-867-5309",
    "+49 30 901820",
    "06 12 34 56 78",
]


@given(
    before=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
    line_break=st.sampled_from(_LINE_BREAKS),
    number=st.sampled_from(_NUMBERS_ON_THEIR_LINE),
)
@settings(max_examples=300, deadline=None)
def test_a_number_starting_a_line_scores_as_on_a_line_of_its_own(
    before: str, line_break: str, number: str
) -> None:
    """A line break ends the token before a number and the words that lower its score: a
    phone starting a line scores at least as on its own, whatever the line before holds
    (a phone word there may lift it; a label alone on it is a form's "Item:")."""
    alone = {s["score"] for s in find_phones(number)}
    text = before + line_break + number
    assume(not labelled(text, len(text) - len(number)))
    scores = [s["score"] for s in find_phones(text) if s["start"] == len(text) - len(number)]
    assert scores
    assert max(scores) >= max(alone)


@pytest.mark.parametrize(
    "text",
    [
        "Anna Smith\n+44 7911 123456\nLeeds",
        "Thanks, we got your order\n07911 123456",
        "Thanks\n(415) 555-2671",
        "Total: $\n415-867-5309",
        "see ticket\u2028415-867-5309",
    ],
)
def test_a_phone_after_a_line_break_is_a_confident_phone(text: str) -> None:
    """The line before a phone number is no part of its token, its sign or its label."""
    assert max(s["score"] for s in find_phones(text)) >= 0.75


@pytest.mark.parametrize(
    "text",
    ["Part no.:\n784-9912-16", "  SKU:  \r\n  34-5678-9012", "Order number\n12-3456-7890"],
)
def test_a_label_alone_on_the_line_before_names_a_reference(text: str) -> None:
    """A form's label on its own line names the number under it, as on the same line."""
    found = find_phones(text)
    assert found
    assert all(s["score"] < 0.7 for s in found)


@pytest.mark.parametrize(
    "text",
    [
        "Tel:07911 123456",
        "Phone:415-867-5309",
        '<a href="tel:+14155552671">call us</a>',
        "TEL;TYPE=CELL:+1 415 555 2671",
        "contact?mobile=+44 7911 123456",
        "Anna|Smith|07911 123456|Leeds",
        "https://example.org/cb?phone=+447911123456&lang=en",
        "call me...07911 123456...or write",
    ],
)
def test_a_number_after_a_key_and_its_colon_is_a_phone(text: str) -> None:
    """A key's ":" or "=" ends the token before a number, as a space would; "|" and "&"
    separate fields, and an ellipsis words: a vCard's TEL, a tel: link, "Phone:" written
    tight, a field of a pipe-separated row or of a query string are phones, not one
    token with letters."""
    assert max(s["score"] for s in find_phones(text)) >= 0.75


@pytest.mark.parametrize("text", ["Started T14:2207911 123456", "fe80::1ff:fe23:4155552671"])
def test_a_colon_after_digits_still_joins_a_token(text: str) -> None:
    """Only a key of letters ends at its colon: a time or an address runs on."""
    assert all(s["score"] < 0.4 for s in find_phones(text))


@pytest.mark.parametrize(
    "text",
    [
        "ISBN:\n0306406152",
        "isbn,title\n0306406152,Title",
        "Serial number:\n03064061529",
        "?id=06260181590&ref=abc",
        "ts=1686928195 user_id=03601815908",
    ],
)
def test_other_numbers_and_other_keys_stay_under_the_bar(text: str) -> None:
    """A word naming another kind of number counts on the line before too (a header
    row), and a key that names no phone keeps its number one token with it."""
    assert all(s["score"] < 0.7 for s in find_phones(text))


def test_a_long_line_without_spaces_is_no_slower_per_number() -> None:
    """The token around a number is followed a bounded way: a line of 20k characters
    with a number every 11 is scanned in linear work (no walk to the line's start)."""
    text = "a0301234567" * 2000
    assert all(s["score"] == 0 for s in find_phones(text[:2200]))
    assert _token_start(text, len(text) - 5) >= len(text) - 5 - 64


@pytest.mark.parametrize(
    "text",
    [
        "Tel.:07911 123456",
        "Mob.07911 123456",
        "tel2:+14155552671",
        "Ph.:4155552671",
        "home_phone=07911 123456",
        "mobileNumber:07911 123456",
        "Telefon-Nr.:030 1234567",
        "Anna:07911 123456",
        "Anna Smith,Leeds,notes:+44 7911 123456",
        "https://wa.me/447911123456?text=Hi",
        "https://t.me/+447911123456",
        "callto:+14155552671",
    ],
)
def test_a_phone_key_in_any_form_or_a_dial_link_ends_the_token(text: str) -> None:
    """A phone key abbreviated, numbered, in a compound or in another language, any
    key before a number written as a phone, and a link that dials a number: the number
    is a phone, not one token with the key."""
    assert max(s["score"] for s in find_phones(text)) >= 0.75


@pytest.mark.parametrize(
    "text",
    [
        "graph:0301234567",
        "build=06260181590",
        "ticket:2024-118934",
        "version:10.0.19041.1",
        "https://x.org/api/v2/items/4029183901?expand=1",
        "https://example.org/me/447911123456",
    ],
)
def test_a_bare_or_otherwise_grouped_number_stays_one_token_with_its_key(text: str) -> None:
    """Only a phone key (not one merely ending in "ph") ends a token before a bare
    number; another key does so only before a number written as a phone; "/" in a path
    is no key but in a dial link."""
    assert all(s["score"] < 0.4 for s in find_phones(text))


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("Móvil:", "612 345 678"),
        ("Teléfono", "612 34 56 78"),
        ("Telefon", "030 1234567"),
        ("Cel:", "612 345 678"),
        ("cel.", "55 1234 5678"),
    ],
)
def test_phone_words_of_the_phone_regions_languages_raise_a_score(word: str, number: str) -> None:
    """The phone words of the configured regions' languages count as English ones do."""
    alone = max(s["score"] for s in find_phones(f"See {number}"))
    with_word = max(s["score"] for s in find_phones(f"{word} {number}"))
    assert with_word >= min(1.0, alone + 0.35) - 1e-9
    assert with_word >= 0.85 - 1e-9


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Revenue: 612 345 678 EUR", False),
        ("Population 912.345.678 in 2050", False),
        ("Monthly API calls: 612 345 678", False),
        ("The text has 712 345 678 tokens; reach 612 345 678 users", False),
        ('{"phone_number": "612 345 678"}', True),
        ('"mobileNumber": "612 345 678"', True),
        ("Móvil: 612 345 678", True),
        ("Tel:612 345 678", True),
        ("Cel:612 345 678", True),
        ("+34 612 345 678", True),
    ],
)
def test_a_number_grouped_as_thousands_needs_a_phone_word(text: str, phone: bool) -> None:
    """Spain's "612 345 678" is how much of Europe writes an amount or a count: likely
    a phone (chat masks it), a certain one only with a word naming a phone (not a verb
    such as "calls" or "text"), written alone or in a key, a phone key, or a "+"."""
    assert (max(s["score"] for s in find_phones(text)) >= 0.7) is phone


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30)), max_size=12),
    st.integers(0, 80),
    st.integers(1, 30),
)
def test_cover_holds_a_range_as_a_scan_of_every_span_would(
    spans: list[tuple[int, int]], start: int, length: int
) -> None:
    """The binary search over spans answers as the scan it replaced (which made a table of
    grouped numbers quadratic)."""
    pairs = [(begin, begin + size) for begin, size in spans]
    expected = any(s <= start and start + length <= e for s, e in pairs)
    assert _Cover(list(pairs)).holds(start, start + length) is expected


def _with_check_digits(country: str, bban: str) -> str:
    """``country`` + check digits + ``bban`` that pass mod 97, whatever the country."""
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - numeric % 97:02d}{bban}"


@pytest.mark.parametrize(
    "value",
    [
        _with_check_digits("VY", "QKAY7EVEQQ1"),  # no such country
        _with_check_digits("ZZ", "3704004405320130"),
        _with_check_digits("DE", "3704004405320130"),  # Germany's are 22 long, this 20
        _with_check_digits("NL", "ABNA04171643001"),  # the Netherlands': 18, this 19
    ],
)
def test_a_token_passing_mod_97_outside_the_registry_is_no_iban(value: str) -> None:
    """One token in 97 passes mod 97 by chance: only a registered country's IBAN at its
    registered length is one."""
    assert iban_valid(value)
    assert find_ibans(f"The value {value} was returned.") == []


@pytest.mark.parametrize(("country", "token"), [("ZV", "188ZXWSKD2"), ("DE", "3704004405")])
def test_a_token_and_the_word_after_it_are_no_iban(country: str, token: str) -> None:
    """The pattern's groups take in the word after a token: "ZV..188ZXWSKD2 was" passes
    mod 97 here, but no country's IBAN is written so."""
    value = _with_check_digits(country, f"{token}WAS")
    text = f"The value {value[:-3]} was returned by the service today."
    assert iban_valid(f"{value[:-3]} was")
    assert find_ibans(text) == []


@pytest.mark.parametrize(
    "date",
    [
        "14.02.2021",
        "4.2.2021",
        "31-12-1999",
        "02-14-2021",
        "2021.02.14",
        "2021/02/14",
        "01.03.2024 - 31.12.2024",
    ],
)
@pytest.mark.parametrize(
    "sentence", ["Meeting moved to {} at noon.", "Invoice date {}.", "Gültig ab {}"]
)
def test_a_calendar_date_is_no_phone(date: str, sentence: str) -> None:
    """Eight digits in 2-2-4 groups pass as a valid number in several regions; written
    with dots or dashes and a four-digit year they are a date."""
    assert find_phones(sentence.format(date)) == []


@pytest.mark.parametrize(
    "number",
    [
        "06.12.34.56.78",
        "0151 1402 2021",
        "+49 30 1402 2021",
        "030 14022021",
        "+49 30 12.03.2001",
        "0049 30 12.03.2001",
    ],
)
def test_phones_holding_date_like_digits_are_still_phones(number: str) -> None:
    text = f"Tel. {number}"
    assert any(
        text[s["start"] : s["end"]] == number and s["score"] >= 0.7 for s in find_phones(text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "Teléfono: 612345678",
        "Phone 612345678",
        "Tel:612345678",
        "Mobile:612345678",
        '"phone": "612345678"',
        "Phone no. 612345678",
        "My number is 612345678",
        "| Telephone | 612345678 |",
    ],
)
def test_a_short_bare_number_a_phone_label_names_is_a_phone(text: str) -> None:
    """Spain's nine-digit numbers are often written bare: after a label that only names a
    phone, or a phone key tight before them, they are one, as a longer number is."""
    assert max(s["score"] for s in find_phones(text)) >= 0.7


@pytest.mark.parametrize(
    "text",
    [
        "Call 612345678",
        "order 612345678",
        "phone batch 612345678",
        "612345678",
        "Sessions by device - Mobile: 61234567, Desktop: 41234567",
        "| Mobile | 612345678 | 41% |",
        "SMS: 712345678 sent this quarter",
    ],
)
def test_a_short_bare_number_without_a_phone_label_is_only_likely(text: str) -> None:
    """A verb ("call"), a phone word that labels something else, or a word that also heads
    a device's or a channel's count ("Mobile", "SMS") is no phone label."""
    assert max(s["score"] for s in find_phones(text)) < 0.7


def test_a_few_digits_after_a_number_are_no_phone() -> None:
    """``phonenumbers`` finds "(41" of "(41%)" possible in Germany: under five digits
    no subscriber is reached."""
    text = "WhatsApp: 712345678 (41%)"
    assert [text[s["start"] : s["end"]] for s in find_phones(text)] == ["712345678"]
