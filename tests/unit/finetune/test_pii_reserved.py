"""Reserved values (documentation, example and private ranges, published test cards) and
role mailboxes are told from others."""

from __future__ import annotations

import pytest

from gateway.finetune.examples import Example
from gateway.finetune.pii_plan import PiiPlan
from gateway.finetune.pii_reserved import is_reserved, is_role
from gateway.finetune.pii_scan import PiiScan
from gateway.pii.types import PiiSpan


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("IP_ADDRESS", "10.223.239.151"),
        ("IP_ADDRESS", "172.31.0.5"),
        ("IP_ADDRESS", "192.168.1.20"),
        ("IP_ADDRESS", "127.0.0.7"),
        ("IP_ADDRESS", "169.254.10.1"),
        ("IP_ADDRESS", "192.0.2.44"),
        ("IP_ADDRESS", "198.51.100.7"),
        ("IP_ADDRESS", "203.0.113.9"),
        ("IP_ADDRESS", "::1"),
        ("IP_ADDRESS", "2001:db8::17"),
        ("IP_ADDRESS", "fd12:3456::1"),
        ("EMAIL_ADDRESS", "noreply35@example.com"),
        ("EMAIL_ADDRESS", "ops@mail.example.org"),
        ("EMAIL_ADDRESS", "a@EXAMPLE.NET"),
        ("EMAIL_ADDRESS", "user@host.test"),
        ("EMAIL_ADDRESS", "x@nowhere.invalid"),
        ("EMAIL_ADDRESS", "dev@box.localhost"),
        ("EMAIL_ADDRESS", "bob@corp.example"),
        ("PHONE_NUMBER", "(212) 555-0149"),
        ("PHONE_NUMBER", "+1 415 555 0100"),
        ("PHONE_NUMBER", "1-617-555-0199"),
        ("CREDIT_CARD", "4242 4242 4242 4242"),
        ("CREDIT_CARD", "4111-1111-1111-1111"),
        ("CREDIT_CARD", "5555555555554444"),
        ("CREDIT_CARD", "3782 822463 10005"),
        ("CREDIT_CARD", "4000 0000 0000 0002"),
    ],
)
def test_reserved_values(kind: str, value: str) -> None:
    """Private, loopback, link-local and documentation IPs, RFC 2606/6761 mail domains,
    US 555-0100..0199 numbers and published test cards are reserved."""
    assert is_reserved(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("IP_ADDRESS", "81.2.69.160"),
        ("IP_ADDRESS", "100.64.3.2"),  # carrier-grade NAT: a subscriber's
        ("IP_ADDRESS", "2a00:1450:4001::1"),
        ("IP_ADDRESS", "not an ip"),
        ("EMAIL_ADDRESS", "jane.doe@acme-corp.com"),
        ("EMAIL_ADDRESS", "realm@host.com"),
        ("EMAIL_ADDRESS", "a@example.com.evil.io"),
        ("EMAIL_ADDRESS", "a@myexample.com"),
        ("PHONE_NUMBER", "(212) 555-0200"),
        ("PHONE_NUMBER", "(212) 867-5309"),
        ("PHONE_NUMBER", "+44 20 7555 0150"),
        ("PHONE_NUMBER", "055-501-0150"),
        ("CREDIT_CARD", "4539 1488 0343 6467"),  # Luhn-valid, not a test number
        ("CREDIT_CARD", "4242 4242 4242 4241"),  # one digit off a test number
        ("EMAIL_ADDRESS", "support@acme-corp.com"),  # a role, not reserved
        ("US_SSN", "4242424242424242"),
    ],
)
def test_other_values(kind: str, value: str) -> None:
    """Public addresses, other domains, other numbers and other types are not."""
    assert not is_reserved(kind, value)


@pytest.mark.parametrize(
    "value",
    [
        "support@acme-corp.com",
        "Security@Acme-Corp.com",
        "no-reply@github.com",
        "do_not_reply@mail.bank.co.uk",
        "MAILER-DAEMON@mx.acme.io",
        "postmaster@acme.io",
        "abuse@isp.net",
        "sales+eu@contoso.io",
    ],
)
def test_role_mailboxes(value: str) -> None:
    """RFC 2142's mailbox names and no-reply senders, in any case or separator, with a
    ``+`` tag, are roles."""
    assert is_role("EMAIL_ADDRESS", value)


@pytest.mark.parametrize(
    "value",
    [
        "1-800-275-2273",
        "(800) 275-2273",
        "888.555.2671",
        "1 (877) 246-9753",
        "0800 123 4567",
        "0808 157 0192",
        "1800 123 456",
        "+1 866 555 2671",
        "+44 800 123 4567",
        "+49 800 1234567",
    ],
)
def test_toll_free_numbers_are_roles(value: str) -> None:
    """NANP toll-free codes, freephone 0800/0808/1800, and any number with its country
    code that the numbering plan types as toll-free."""
    assert is_role("PHONE_NUMBER", value)


@pytest.mark.parametrize(
    "value",
    [
        "(415) 555-2671",
        "(812) 555-2671",  # an Indiana area code next to the toll-free ones
        "020 7946 0958",
        "07700 900123",
        "+44 20 7946 0958",
        "+1 415 555 2671",
        "+49 30 901820",
        "0900 123 456",  # premium rate: a business, but not free; left to the policy
        "1-800-275",
        "88823 45678",  # an Indian mobile (toll-free digits in the US)
        "8447123456",  # bare: as much an order number
        "(83) 3216-7000",  # a landline in Paraíba
        "08081 123456",  # a landline in Bavaria
        "080 8123 4567",  # Bangalore
    ],
)
def test_personal_numbers_are_not_roles(value: str) -> None:
    assert not is_role("PHONE_NUMBER", value)


@pytest.mark.parametrize(
    ("value", "role"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("9.9.9.9", True),
        ("208.67.222.222", True),
        ("2606:4700:4700::1111", True),
        ("[2001:4860:4860::8888]", True),
        ("8.8.8.9", False),
        ("81.2.69.160", False),
        ("1.1.1.2", False),
        ("not an ip", False),
    ],
)
def test_public_resolvers_are_roles(value: str, role: bool) -> None:
    """The public DNS resolvers' addresses are a service's; a neighbour is not."""
    assert is_role("IP_ADDRESS", value) is role


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("EMAIL_ADDRESS", "jane.doe@acme-corp.com"),
        ("EMAIL_ADDRESS", "support.jane@acme-corp.com"),
        ("EMAIL_ADDRESS", "jane+support@acme-corp.com"),
        ("EMAIL_ADDRESS", "supporter@acme-corp.com"),
        ("EMAIL_ADDRESS", "steve.jobs@apple.com"),
        ("EMAIL_ADDRESS", "info1987@gmail.com"),
        ("EMAIL_ADDRESS", "info2@contoso.io"),
        ("EMAIL_ADDRESS", "le.gal@acme.fr"),
        ("EMAIL_ADDRESS", "jo.bs@acme.fr"),
        ("EMAIL_ADDRESS", "noé.c@acme.fr"),
        ("EMAIL_ADDRESS", "support@gmail.com"),
        ("EMAIL_ADDRESS", "Info@Yahoo.com"),
        ("EMAIL_ADDRESS", "support"),
        ("PHONE_NUMBER", "support@acme-corp.com"),
    ],
)
def test_personal_mailboxes(kind: str, value: str) -> None:
    """A person's name beside a role word, a role in the tag only, a longer word, digits
    or other letters beside a role's name, a role's name at a free mail provider, and
    other types are not roles."""
    assert not is_role(kind, value)


async def test_findings_of_reserved_values_are_grouped_apart() -> None:
    """A scan reports reserved and other values of one type as two findings, with
    ``reserved`` in their facts."""

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        found: list[list[PiiSpan]] = []
        for text in texts:
            start = text.rfind(" ", 0, text.index("@")) + 1
            end = text.index(" ", text.index("@"))
            found.append([PiiSpan(type="EMAIL_ADDRESS", start=start, end=end, score=1.0)])
        return found

    examples = [
        Example(1, ("Mail noreply@example.com today",)),
        Example(2, ("Mail jane.doe@acme-corp.com today",)),
    ]
    scan = PiiScan(never, 0.5, ner=False, analyze_patterns=patterns)
    found = await scan.scan(examples, PiiPlan(scan=True, types=None, ner=False))
    assert [(f.lines, f.fact()["reserved"]) for f in found] == [((2,), False), ((1,), True)]


async def test_findings_of_role_mailboxes_are_grouped_apart() -> None:
    """A role mailbox and a person's address are two findings, ``role`` in their facts."""

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    examples = [
        Example(1, ("Mail jane.doe@acme-corp.com today",)),
        Example(2, ("Write to support@acme-corp.com for help",)),
    ]
    scan = PiiScan(never, 0.5, ner=False)
    plan = PiiPlan(scan=True, types=("EMAIL_ADDRESS",), ner=False)
    found = await scan.scan(examples, plan)
    facts = [(f.lines, f.fact()["role"], f.fact()["reserved"]) for f in found]
    assert sorted(facts) == [((1,), False, False), ((2,), True, False)]


async def test_the_pattern_lane_marks_reserved_values_only() -> None:
    """With the real pattern recognizers, a private IP after "IP", an example.com address,
    a 555-01xx number and a test card are found as reserved; a public IP, a real domain's
    address, another number with a phone word and another card are found as not
    reserved."""

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    lines = [
        "Set the server IP to 10.223.239.151 and restart nginx.",
        "Set SMTP_FROM to noreply35@example.com in the config.",
        "Call the front desk at (212) 555-0149 to book a room.",
        "Her home IP address is 81.2.69.160.",
        "Send the contract to jane.doe@acme-corp.com today.",
        "Call (212) 867-5309 to confirm the delivery.",
        "Pay with the test card 4242 4242 4242 4242 in the sandbox.",
        "Her card number is 4539 1488 0343 6467.",
    ]
    examples = [Example(n, (line,)) for n, line in enumerate(lines, start=1)]
    scan = PiiScan(never, 0.5, ner=False)
    types = ("CREDIT_CARD", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER")
    found = await scan.scan(examples, PiiPlan(scan=True, types=types, ner=False))
    strong = [f for f in found if f.score >= 0.7]
    assert {line for f in strong if f.reserved for line in f.lines} == {1, 2, 3, 7}
    assert {line for f in strong if not f.reserved for line in f.lines} == {4, 5, 6, 8}
