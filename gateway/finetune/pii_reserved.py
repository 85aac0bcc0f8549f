"""Values that are nobody's personal identifier: reserved ones, and a role's.

A finding whose value lies in such a range is reported with ``reserved`` set; whether that
spares the upload is the policy's call, per type (``pii_allow_reserved`` in
``policies/data.json``), since a security team may still want, say, addresses at
``example.com`` kept out of training data. The ranges:

- IP addresses that are not globally routable and reach no one's device from outside:
  private networks (RFC 1918, IPv6 unique local), loopback, link-local, and the
  documentation ranges (RFC 5737, RFC 3849). Carrier-grade NAT (100.64/10) is not among
  them: an ISP assigns it to a subscriber.
- E-mail addresses at the example domains (RFC 2606: example.com, .net, .org) or under
  the reserved top-level domains (RFC 2606, RFC 6761: .example, .test, .invalid,
  .localhost): no such mailbox can exist.
- US phone numbers 555-0100 to 555-0199 in any area code: the NANP reserves them for
  fiction.
- Card numbers the payment processors publish for testing (Stripe, Braintree, PayPal,
  Adyen and others): no account is issued under them, and payment
  integration guides quote them on every page.

Apart from these, ``is_role`` tells an address or number of a role or service rather
than a person: an e-mail address at one of the mailbox names RFC 2142 sets for common
services (``postmaster``, ``abuse``, ``security``, ``support``, ``sales``...) or a
no-reply sender, and a toll-free number (NANP 800, 833, 844, 855, 866, 877, 888;
freephone 0800, 0808, 1800; any other with its country code that ``phonenumbers``
types as toll-free), and the addresses of the public DNS resolvers (Google, Cloudflare,
Quad9, OpenDNS) that network guides name. Such an address or number is a company's or
a service's, not anyone's personal data, but it does reach a real mailbox, line or
host, so it is reported apart from reserved values and the policy decides on it
separately (``pii_allow_role``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import phonenumbers

from gateway.pii.recognizers import PHONE_REGIONS

_EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
_NON_DIGIT = re.compile(r"[^0-9]")
_SEPARATORS = re.compile(r"[_-]")
_TEST_CARDS = frozenset((
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222",
    "5200828282828210", "5105105105105100", "378282246310005", "371449635398431",
    "6011111111111117", "6011000990139424", "6011981111111113", "3056930009020004",
    "36227206271667", "3566002020360505", "6200000000000005", "4111111111111111",
    "4012888888881881", "4222222222222", "5431111111111111", "5454545454545454",
    "378734493671000", "30569309025904", "38520000023237", "3530111333300000", "3566111111111113",
    "6011000000000004", "4007000000027", "4012888818888", "4444333322221111", "5500000000000004",
    "2221000000000009", "5425233430109903", "2223000048410010", "4263982640269299",
    "4917484589897107", "374245455400126", "6011000000000012", "4005519200000004",
    "4009348888881881", "4012000033330026", "4012000077777777", "4217651111111119",
    "4500600000000061", "5424000000000015", "340000000000009", "370000000000002",
    "4000002500003155", "4000002760003184", "4000000000003220", "4000000000009235",
    "4000000000009987", "4000000000009979", "4000000000009995", "4000000000000002",
    "4000000000000010", "4000000000000028", "4000000000000036", "4000000000000044",
    "4000000000000069", "4000000000000077", "4000000000000093", "4000000000000101",
    "4000000000000119", "4000000000000127", "4000000000000259", "4000000000000267",
    "4000000000000275", "4000000000000283", "4000000000000341",
))  # fmt: skip
"""Published test card numbers (digits only), each Luhn-valid."""
_ROLE_MAILBOXES = frozenset((
    "postmaster", "hostmaster", "webmaster", "abuse", "noc", "security", "info", "marketing",
    "sales", "support", "usenet", "news", "www", "uucp", "ftp", "noreply", "donotreply",
    "mailerdaemon", "notifications", "help", "helpdesk", "contact", "billing", "privacy", "legal",
    "press", "careers", "jobs",
))  # fmt: skip
"""RFC 2142's mailbox names, the no-reply senders and the desks most sites publish;
matched on the local part without ``-``, ``_`` (``no-reply``, ``do_not_reply``,
``MAILER-DAEMON``) and a ``+`` tag."""
_FREE_MAIL = frozenset((
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
    "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com",
    "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de", "orange.fr", "free.fr",
    "laposte.net", "libero.it", "yandex.ru", "mail.ru", "qq.com", "163.com", "zoho.com",
    "fastmail.com", "hey.com", "tutanota.com",
))  # fmt: skip
"""Free mail providers: an address there is a person's, whatever its name."""
_NATIONAL_TOLL_FREE = re.compile(
    r"1?8(?:00|33|44|55|66|77|88)[2-9][0-9]{6}|08(?:00|08)[0-9]{4,8}|1800[0-9]{6}"
)
"""The digits of toll-free numbers written without a country code: NANP's
(``1-800-275-2273``) and the freephone ranges of the UK, Germany, France, the
Netherlands (0800, 0808), Ireland and Australia (1800). A quick test only: the number
must also be written as one (``_toll_free``)."""
_TOLL_FREE = phonenumbers.PhoneNumberType.TOLL_FREE

_PUBLIC_RESOLVERS = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844",
        "1.1.1.1", "1.0.0.1", "2606:4700:4700::1111", "2606:4700:4700::1001",
        "9.9.9.9", "149.112.112.112", "2620:fe::fe", "2620:fe::9",
        "208.67.222.222", "208.67.220.220", "2620:119:35::35", "2620:119:53::53",
    )
)  # fmt: skip
"""Google Public DNS, Cloudflare, Quad9 and OpenDNS: anycast services, nobody's host."""


def is_reserved(kind: str, value: str) -> bool:
    """Whether ``value``, found as a ``kind`` (Presidio's type), is a reserved one."""
    check = _RESERVED.get(kind)
    return check is not None and check(value)


def is_role(kind: str, value: str) -> bool:
    """Whether ``value``, found as a ``kind``, is a role's e-mail address, a toll-free
    number or a public DNS resolver's address."""
    check = _ROLE.get(kind)
    return check is not None and check(value)


def _public_resolver(value: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip("[]")) in _PUBLIC_RESOLVERS
    except ValueError:
        return False


def _role_mailbox(value: str) -> bool:
    """The local part less a ``+`` tag and the separators ``-``, ``_`` is a role's name
    exactly, at a domain of its own: ``info1987@gmail.com``, ``le.gal@acme.fr`` (a dot
    joins names, not a role's words) and ``support@gmail.com`` are a person's."""
    local, at, domain = value.rpartition("@")
    if not at or domain.rstrip(".").lower() in _FREE_MAIL:
        return False
    return _SEPARATORS.sub("", local.partition("+")[0].lower()) in _ROLE_MAILBOXES


def _toll_free(value: str) -> bool:
    """A ``+`` number its plan types as toll-free; a national one only when written as a
    toll-free number is (its region's own groups: "(800) 275-2273", "0800 123 4567"),
    since the same digits are personal lines elsewhere ("88823 45678", an Indian mobile;
    "(83) 3216-7000", a landline in Paraíba; "08081 123456", one in Bavaria)."""
    value = value.strip()
    if value.startswith("+"):
        try:
            number = phonenumbers.parse(value)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.number_type(number) == _TOLL_FREE
    if _NATIONAL_TOLL_FREE.fullmatch(_NON_DIGIT.sub("", value)) is None or value.isdigit():
        return False  # a bare run of digits is as much an order or account number
    return any(
        match.start == 0
        and match.end == len(value)
        and phonenumbers.number_type(match.number) == _TOLL_FREE
        for region in PHONE_REGIONS
        for match in phonenumbers.PhoneNumberMatcher(
            value, region, leniency=phonenumbers.Leniency.EXACT_GROUPING
        )
    )


def _reserved_ip(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    # ``is_private`` covers RFC 1918, unique local and the documentation ranges;
    # 100.64/10 is neither private nor global, and stays an identifier.
    return address.is_private or address.is_loopback or address.is_link_local


def _reserved_email(value: str) -> bool:
    _, at, domain = value.rpartition("@")
    if not at:
        return False
    domain = domain.rstrip(".").lower()
    return (
        domain in _EXAMPLE_DOMAINS
        or domain.rpartition(".")[2] in _RESERVED_TLDS
        or any(domain.endswith("." + example) for example in _EXAMPLE_DOMAINS)
    )


def _fictional_phone(value: str) -> bool:
    digits = _NON_DIGIT.sub("", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    # A NANP area code starts with 2 to 9.
    return (
        len(digits) == 10
        and digits[0] in "23456789"
        and digits[3:6] == "555"
        and 100 <= int(digits[6:]) <= 199
    )


def _test_card(value: str) -> bool:
    return _NON_DIGIT.sub("", value) in _TEST_CARDS


_RESERVED: dict[str, Callable[[str], bool]] = {
    "IP_ADDRESS": _reserved_ip,
    "EMAIL_ADDRESS": _reserved_email,
    "PHONE_NUMBER": _fictional_phone,
    "CREDIT_CARD": _test_card,
}
_ROLE: dict[str, Callable[[str], bool]] = {
    "EMAIL_ADDRESS": _role_mailbox,
    "PHONE_NUMBER": _toll_free,
    "IP_ADDRESS": _public_resolver,
}
