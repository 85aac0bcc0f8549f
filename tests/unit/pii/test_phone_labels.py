"""A label names a short bare number as a phone; a device's count is no phone."""

import re

import pytest

from gateway.pii.phone_labels import labelled_as_phone


def _labelled(text: str, number: str) -> bool:
    start = text.index(number)
    return labelled_as_phone(text, start, start + len(number))


@pytest.mark.parametrize(
    "text",
    [
        "Teléfono: 612345678",
        "Phone number 612345678",
        "Mobile: 612345678",
        "Cell: 91234567",
        "WhatsApp: 612345678.",
        "Móvil: 612345678 (tardes)",
        "Fax: 912345678, Email: office@example.org",
        "Mobile number 612345678",
        "Cell #: 612345678",
        "Her mobile is 612345678.",
        '{"mobile": "612345678", "name": "Anna"}',
        "Name: Anna, Age: 34, Mobile: 612345678, Email: anna@example.org",
        "Mobile: 612345678 or 712345678",
        "Mobile: 612345678\nDesktop: 41234567",
    ],
)
def test_a_phone_label_names_the_number(text: str) -> None:
    """A phone-only word with any key, or a device word with a number word or a key
    on a line that reads as no count."""
    first = re.search(r"[0-9]{8,9}", text)
    assert first is not None
    assert _labelled(text, first.group())


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Mobile: 61234567, Desktop: 41234567", "61234567"),
        ("| Mobile | 612345678 | 41% |", "612345678"),
        ("Mobile: 612345678 (41%)", "612345678"),
        ("WhatsApp: 712345678 messages", "712345678"),
        ("SMS: 712345678 sent", "712345678"),
        ('{"mobile": 61234567, "desktop": 41234567}', "61234567"),
        ('{"mobile": 61234567}', "61234567"),
        ("Mobile,61234567", "61234567"),
        ("Cell count: 61234567 per ml", "61234567"),
        ("Order 612345678 for the mobile team", "612345678"),
        ("mobile app builds: 612345678", "612345678"),
    ],
)
def test_a_device_or_channel_count_is_no_phone(text: str, number: str) -> None:
    """A "%", a sibling count, a unit word after it, a JSON number, a CSV or table cell,
    or no label right before it: a count."""
    assert not _labelled(text, number)
