"""The upload scan's pattern lane, end to end under the default policy's thresholds, on
identifiers written in the forms that hid them: three digit groups, keys written tight
or abbreviated, dial links, escapes, and numbers only their label names."""

import pytest

from tests.bench.bench_pii_identifiers import refusals, thresholds

MINIMUM = thresholds()


@pytest.mark.parametrize(
    "line",
    [
        "Tel:+34 612 345 678",
        "Móvil: 612 345 678",
        "Anna|Smith|tel:612 345 678|Leeds",
        "Teléfono de contacto: 912 345 678",
        '{"phone_number": "612 345 678", "ssn": "536228726"}',
        "Tel.:07911 123456",
        "Mob.07911 123456",
        "tel2:+14155552671",
        "Anna:07911 123456",
        "Chat with me: https://wa.me/447911123456?text=Hi",
        "https://example.com/callback?phone=%2B447911123456",
        '{"note": "call Anna on 07911\\u00a0123456"}',
        '{"note": "call Anna on \\u002B44 7911 123456"}',
        "<p>Call &#43;44&nbsp;7911&nbsp;123456</p>",
        "SSN: 536228726",
        "Passport number: 912803456",
        "Driver's license: D1234567",
    ],
)
async def test_a_personal_identifier_in_a_hiding_form_is_refused(line: str) -> None:
    share, _ = await refusals([line], MINIMUM)
    assert share == 100.0


@pytest.mark.parametrize(
    "line",
    [
        "Revenue rose 20% in R&D; 100%zz &amp; more",
        "ticket:2024-118934 build=06260181590 user_id=3601815908",
        "graph:0301234567 version:10.0.19041.1",
        "The security patch fixed 536228726 requests from our social media reach.",
        "GET /api/v2/items/4029183901?expand=1&page=2%20",
        "Revenue: 612 345 678 EUR; downloads 712.345.678; Q1 Q2 Q3: 612 345 678",
        "Le budget atteint 912 345 678 € cette année.",
        "Monthly API calls: 612 345 678; the text has 712 345 678 tokens; calls=612 345 678",
    ],
)
async def test_ordinary_numbers_near_keys_words_and_escapes_are_not_refused(line: str) -> None:
    share, types = await refusals([line], MINIMUM)
    assert share == 0.0, types
