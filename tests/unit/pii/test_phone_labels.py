"""A label names a short bare number as a phone; a device's count is no phone."""

import re

import pytest

from gateway.pii.phone_labels import labelled_as_phone, whole_words


def _first_number_labelled(text: str) -> bool:
    first = re.search(r"[0-9]{8,9}", text)
    assert first is not None
    return labelled_as_phone(text, first.start())


@pytest.mark.parametrize(
    "text",
    [
        "Teléfono: 612345678",
        "Phone number 612345678",
        "Mobile number 612345678",
        "Cell #: 612345678",
        "Her mobile is 612345678.",
        '{"mobile": "612345678", "name": "Anna"}',
        "Name: Anna, Age: 34, Mobile: 612345678, Email: anna@example.org",
        "Fax: 912345678, Email: office@example.org",
        "Mobile: 612345678, Fax: 912345678 (anna.ruiz@example.org)",
        "BEGIN:VCARD\nFN:Anna Ruiz\nEMAIL:anna@example.org\nMobile: 612345678\nEND:VCARD",
        "Nombre: Ana Ruiz\nMóvil: 612345678",
    ],
)
def test_a_phone_label_names_the_number(text: str) -> None:
    """A phone-only word with any key; a device word with a number word, as a person's,
    as a JSON string, or keyed in a contact record (an e-mail or a contact key near)."""
    assert _first_number_labelled(text)


@pytest.mark.parametrize(
    "text",
    [
        "Mobile: 61234567",
        "Sessions by device\nMobile: 83817924\nDesktop: 735068488",
        "traffic:\n  fax: 853411312\n  desktop: 62309938",
        "- Cell: 804429053",
        "  mobile: 517415474,",
        "WhatsApp: 251519619 (+31 vs last week)",
        "Mobile: 330082428 → 442856317",
        "Top channel this quarter — Fax: 682562135.",
        "eNB=864 cell: 228993398",
        "| Mobile | 612345678 | 41% |",
        '{"mobile": 61234567, "desktop": 41234567}',
        "Mobile,61234567",
        "Cell count: 61234567 per ml",
        "Mobile is 61234567 sessions ahead of desktop.",
        "iPhone共530960524台",
    ],
)
def test_a_device_or_channel_count_is_no_phone(text: str) -> None:
    """A device word keyed with no contact record near (a dashboard, YAML, a list, a
    CSV or a table), or no label right before the number: a count."""
    assert not _first_number_labelled(text)


def test_iphone_names_no_phone() -> None:
    """A camelCase join separates words ("homePhone"), but "iPhone" is a product."""
    words = whole_words("phone")
    assert words.search("homePhone: 612345678")
    assert not words.search("iPhone sales 612345678")


@pytest.mark.parametrize(
    "text",
    [
        "name: Q3 traffic\nmobile: 61234567\ndesktop: 41234567",
        "Push: 81234567, Email: 71234567, Mobile: 61234567",
    ],
)
def test_a_name_or_email_key_without_a_person_makes_no_contact_record(text: str) -> None:
    """A YAML block's "name:" holding no person's name, or an "Email:" key holding a
    count, is no contact record: the device's number stays a count."""
    assert not labelled_as_phone(text, text.index("61234567"))
