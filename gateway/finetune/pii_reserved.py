"""Values reserved for documentation, examples and private use: nobody's identifier.

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
"""

from __future__ import annotations

import ipaddress
import re

_EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
_NON_DIGIT = re.compile(r"[^0-9]")


def is_reserved(kind: str, value: str) -> bool:
    """Whether ``value``, found as a ``kind`` (Presidio's type), is a reserved one."""
    if kind == "IP_ADDRESS":
        return _reserved_ip(value)
    if kind == "EMAIL_ADDRESS":
        return _reserved_email(value)
    if kind == "PHONE_NUMBER":
        return _fictional_phone(value)
    return False


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
