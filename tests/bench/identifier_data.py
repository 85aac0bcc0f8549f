"""Identifiers in ordinary business and technical lines, and real personal identifiers.

Two generated sets for the fine-tune PII lane (``bench_finetune.py``'s false-refusal and
detection rows, ``bench_pii_identifiers.py``'s per-kind table):

* ``ORDINARY``: the reference numbers ordinary data carries, none of them personal: order,
  tracking and invoice numbers, EAN/UPC/GTIN and ISBN codes (with their real check
  digits), UUIDs and hashes, IBAN-shaped account references, dates and amounts, serial
  and part numbers, semantic versions, four-part versions that read as IPv4 addresses
  next to words holding "ip" (pip, zip, ship, script...), long numeric ids, product,
  part and order numbers grouped 3-4-2, 2-4-4, 4-3-3 or 3-3-4 after the word naming
  them ("Item 784-9912-16": valid phone numbers of some region, or passing the NHS
  checksum, by chance), the test card numbers payment processors publish, role
  mailboxes (support@, security@, no-reply@... at real-looking domains), toll-free
  numbers (NANP 800..888, freephone 0800), public DNS resolvers after "IP", nine
  digits in two dash-joined groups no phone is written in (2-7 as an EIN, 3-6, 6-3,
  7-2, 4-5: a Spanish number's groups joined), and US
  addresses with a ZIP+4 code ("Austin, TX 78701-2047": a third are valid Spanish
  numbers). Each kind
  is a line template; checksums pass where the identifier has one, so the lines are
  what a recognizer meets in a real export.
* ``PERSONAL``: structured personal identifiers a fine-tune upload must be refused for:
  card numbers grouped as printed or next to a card word, NHS numbers written 3-3-4 or
  after "NHS", IBANs of real countries (compact and grouped), SSNs with a context word,
  e-mail addresses (also a person's name beside a role word: ``support.jan@``) and phone
  numbers (also right after a reference word, with a phone or NHS word near, and the
  area code then the rest in one block, as Israel, Italy, the Netherlands and Ireland
  write them).

Deterministic for a ``random.Random``; values are drawn, not looked up.
"""

from __future__ import annotations

import random
import string
import urllib.parse
from collections.abc import Callable

import phonenumbers

Line = Callable[[random.Random], str]

_PRODUCTS = ["Atlas", "Nimbus", "Orion", "Vega", "Quasar", "Helix", "Pioneer", "Summit"]
_CITIES = ["Leipzig", "Rotterdam", "Lyon", "Leeds", "Austin", "Osaka", "Porto", "Gdansk"]
_LIBS = ["requests", "httpx", "numpy", "pydantic", "boto3", "urllib3", "protobuf", "grpcio"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_FIRST = ["anna", "li", "omar", "sofia", "jan", "priya", "tom", "mei", "lukas", "fatima"]
_LAST = ["schmidt", "nguyen", "garcia", "okafor", "jensen", "rossi", "kowalski", "tanaka"]
_DOMAINS = ["acme-corp.com", "example-mail.de", "northwind.co.uk", "contoso.fr", "fabrikam.io"]
_HEX = "0123456789abcdef"
_IP_WORDS = ["installer script", "zip archive", "shipping manifest", "recipient list", "tooltip"]
"""Words holding "ip" (Presidio's IP context word, as a substring)."""


def _digits(rng: random.Random, count: int, *, lead: str = "123456789") -> str:
    """``count`` digits, the first one drawn from ``lead`` (no leading zero by default)."""
    return rng.choice(lead) + "".join(rng.choice(string.digits) for _ in range(count - 1))


def _hex(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(_HEX) for _ in range(count))


def _gs1(body: str) -> str:
    """``body`` with its GS1 check digit (EAN-13, UPC-A, GTIN-14: weights 3, 1 from the
    right)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return body + str(-total % 10)


def _isbn10(body: str) -> str:
    total = sum(int(c) * (10 - i) for i, c in enumerate(body))
    check = -total % 11
    return body + ("X" if check == 10 else str(check))


def _luhn(body: str) -> str:
    """``body`` with its Luhn check digit."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return body + str(-total % 10)


def _ean13(rng: random.Random) -> str:
    prefix = rng.choice(["400", "401", "405", "419", "426", "500", "506", "300", "340", "690"])
    return _gs1(prefix + _digits(rng, 9, lead=string.digits))


def _semver(rng: random.Random) -> str:
    core = f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}"
    return rng.choice(
        [core, f"v{core}", f"{core}-rc.{rng.randint(1, 5)}", f"{core}+build.{_digits(rng, 4)}"]
    )


def _ip_version(rng: random.Random) -> str:
    """A four-part version whose parts all fit an octet: IPv4-shaped."""
    return ".".join(str(rng.randint(0, 255) if i else rng.randint(1, 12)) for i in range(4))


def _amount(rng: random.Random) -> str:
    value = rng.randint(100, 99_999_999)
    cents = rng.randint(0, 99)
    return rng.choice(
        [
            f"${value:,}.{cents:02d}",
            f"USD {value:,}.{cents:02d}",
            f"EUR {value:,}".replace(",", ".") + f",{cents:02d}",
            f"{value:,}".replace(",", " ") + f",{cents:02d} €",
            f"£{value:,}",
        ]
    )


def _date(rng: random.Random) -> str:
    year, month, day = rng.randint(2019, 2027), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        [
            f"{year}-{month:02d}-{day:02d}",
            f"{day:02d}.{month:02d}.{year}",
            f"{month}/{day}/{year}",
            f"{day} {_MONTHS[month % 6]} {year}",
            f"{year}{month:02d}{day:02d}",
        ]
    )


def _serial(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    return rng.choice(
        [
            "".join(rng.choice(upper) for _ in range(12)),  # a laptop's serial
            f"SN{_digits(rng, 10)}",
            rng.choice("ABCDFGHKLMPRSTX") + rng.choice(string.ascii_uppercase) + _digits(rng, 7),
            f"{_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 4)}",
            rng.choice(string.ascii_uppercase) + _digits(rng, 8),
        ]
    )


def _part(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{_digits(rng, 4)}-{_digits(rng, 4)}-{rng.randint(1, 30):02d}",
            f"{_digits(rng, 3)}-{_digits(rng, 4)}-{_digits(rng, 3)}",
            f"P{_digits(rng, 8)}",
            _digits(rng, 10),
        ]
    )


def _account_ref(rng: random.Random) -> str:
    """Shaped like an IBAN (country letters, two digits, groups), check digits drawn."""
    country = rng.choice(["DE", "GB", "FR", "NL", "AC", "GL", "CC", "XR"])
    groups = " ".join(_digits(rng, 4, lead=string.digits) for _ in range(rng.randint(3, 5)))
    return rng.choice(
        [
            f"{country}{_digits(rng, 2, lead=string.digits)} {groups}",
            f"{country}{_digits(rng, 2, lead=string.digits)}{groups.replace(' ', '')}",
            f"{country}-{_digits(rng, 4)}-{_digits(rng, 6)}",
        ]
    )


def _order(rng: random.Random) -> str:
    return rng.choice(
        [
            f"#{_digits(rng, 7)}",
            _digits(rng, 10),
            f"ORD-{rng.randint(2019, 2027)}-{_digits(rng, 6)}",
            f"{_digits(rng, 3)}-{_digits(rng, 7)}-{_digits(rng, 7)}",
        ]
    )


def _tracking(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    usps = "9400" + _digits(rng, 18, lead=string.digits)
    return rng.choice(
        [
            "1Z" + "".join(rng.choice(upper) for _ in range(6)) + _digits(rng, 10),
            _digits(rng, 12),
            _digits(rng, 15),
            usps,
            " ".join(usps[i : i + 4] for i in range(0, len(usps), 4)),
            _digits(rng, 10),
        ]
    )


def _uuid(rng: random.Random) -> str:
    variant = rng.choice("89ab") + _hex(rng, 3)
    return f"{_hex(rng, 8)}-{_hex(rng, 4)}-4{_hex(rng, 3)}-{variant}-{_hex(rng, 12)}"


def _long_id(rng: random.Random) -> str:
    return _digits(rng, rng.choice([10, 11, 12, 13, 14, 16, 17, 18, 19]))


def _reserved_ip(rng: random.Random) -> str:
    """A private (RFC 1918), loopback or documentation (RFC 5737) IPv4 address."""
    return rng.choice(
        [
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"127.0.0.{rng.randint(1, 9)}",
            f"{rng.choice(['192.0.2', '198.51.100', '203.0.113'])}.{rng.randint(1, 254)}",
        ]
    )


def _public_ip(rng: random.Random) -> str:
    """A globally routable IPv4 address (first octets of ISP ranges)."""
    first = rng.choice([24, 31, 62, 73, 81, 86, 92, 109, 176, 185, 212, 217])
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _reserved_email(rng: random.Random) -> str:
    """An address at an RFC 2606 / RFC 6761 reserved domain."""
    local = rng.choice(["noreply", "admin", "alice", "bob", "user", "support", "test"])
    domain = rng.choice(
        ["example.com", "example.org", "example.net", "mail.example", "host.test", "x.invalid"]
    )
    return f"{local}{rng.randint(1, 99)}@{domain}"


_STREETS = ["Market St", "Main Street", "Elm Ave", "Congress Ave", "5th Avenue", "Oak Rd"]
_US_CITIES = ["San Francisco, CA", "Austin, TX", "Springfield, IL", "Denver, CO", "Boston, MA"]
_TEST_CARDS = [
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222",
    "378282246310005", "6011111111111117", "3566002020360505", "4111111111111111",
    "4012888888881881", "5105105105105100", "371449635398431", "4000000000000002",
]  # fmt: skip
"""Test card numbers from the processors' documentation (Stripe, Braintree, PayPal)."""


def _test_card(rng: random.Random) -> str:
    number = rng.choice(_TEST_CARDS)
    grouping = rng.choice(["", " ", "-"])
    return _grouped(number, grouping) if grouping else number


def _toll_free(rng: random.Random) -> str:
    code = rng.choice(["800", "833", "844", "855", "866", "877", "888"])
    line = f"{_digits(rng, 3, lead='23456789')}-{_digits(rng, 4, lead=string.digits)}"
    return rng.choice(
        [
            f"1-{code}-{line}",
            f"({code}) {line}",
            f"{code}.{line.replace('-', '.')}",
            f"0800 {_digits(rng, 3, lead=string.digits)} {_digits(rng, 4, lead=string.digits)}",
            f"+44 800 {_digits(rng, 3, lead=string.digits)} {_digits(rng, 4, lead=string.digits)}",
        ]
    )


_ROLES = ["support", "security", "no-reply", "noreply", "billing", "info", "sales", "abuse",
          "privacy", "postmaster", "Support", "do-not-reply", "helpdesk", "careers"]  # fmt: skip


_ROLE_LEADS = ["Send vulnerability reports to", "Questions about invoices go to",
               "Mails come from", "Contact us at"]  # fmt: skip


def _role_email(rng: random.Random) -> str:
    return f"{rng.choice(_ROLES)}@{rng.choice(_DOMAINS)}"


def _fictional_phone(rng: random.Random) -> str:
    """A US number in 555-0100 to 555-0199, reserved for fiction."""
    area = rng.choice(["212", "415", "617", "312", "646", "503"])
    line = f"555-01{rng.randint(0, 99):02d}"
    return rng.choice([f"({area}) {line}", f"{area}-{line}", f"+1 {area} {line}"])


_LABELLED_LINES = [
    "Item {n} is back in stock.",
    "Order {n} shipped on {date}.",
    "Part no. {n} replaces the old bracket in the {prod} assembly.",
    "Reorder {n}: {k} units left at the {city} depot.",
    "Model {n} ships with the new firmware.",
    "SKU: {n} ({prod}, {k}-pack).",
]
"""Product, part and order numbers named by the word right before them, no phone word."""


def _labelled_reference(groups: tuple[int, ...]) -> Line:
    """Lines naming a reference number of ``groups`` digits joined by dashes (some of them
    valid phone numbers of some region, a few passing the NHS checksum)."""

    def line(rng: random.Random) -> str:
        number = "-".join(_digits(rng, count) for count in groups)
        return rng.choice(_LABELLED_LINES).format(
            n=number,
            date=_date(rng),
            prod=rng.choice(_PRODUCTS),
            k=rng.randint(2, 48),
            city=rng.choice(_CITIES),
        )

    return line


def _thousands_grouped(rng: random.Random) -> str:
    """An amount or a count of nine digits grouped as thousands, as much of Europe writes
    them ("612 345 678 EUR"), some after a verb that is also a phone word ("calls",
    "text"): a third are valid Spanish numbers in their own grouping."""
    digits = _digits(rng, 9, lead="6789")
    number = rng.choice(" .").join([digits[:3], digits[3:6], digits[6:]])
    return rng.choice(
        [
            f"Revenue: {number} EUR",
            f"Le budget atteint {number} € cette année.",
            f"Population {number} in {rng.randint(2030, 2070)}",
            f"Downloads per month: {number}",
            f"Monthly API calls: {number}",
            f"The text has {number} tokens.",
            f"calls={number} errors={rng.randint(0, 99)}",
        ]
    )


def _reference_next_line(rng: random.Random) -> str:
    """A reference number on the line after the word naming it (a form's layout)."""
    groups = rng.choice([(3, 4, 2), (2, 4, 4), (4, 3, 3), (3, 3, 4)])
    label = rng.choice(["Part no.:", "Order number", "Item", "SKU:"])
    return label + "\n" + "-".join(_digits(rng, count) for count in groups)


def _device_counts(rng: random.Random) -> str:
    """Counts headed by a word that also names a phone ("Mobile", "SMS", "Cell")."""
    count = rng.randint(10**6, 10**9 - 1)
    return rng.choice(
        [f"Sessions by device - Mobile: {count}, Desktop: {rng.randint(10**6, 10**9 - 1)}",
         f"| Mobile | {count} | {rng.randint(1, 99)}% |", f"SMS: {count} sent this quarter",
         f"Cell count: {count} per ml"]
    )  # fmt: skip


def _account_amounts(rng: random.Random) -> str:
    """A bank account's kind or a passport word before an amount, a date or a count."""
    day = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return rng.choice(
        [f"Savings Account,{day},{rng.randint(1, 9999)}.00",
         f"Checking Account,{rng.randint(10**7, 10**9)},USD",
         f"The savings account holds {rng.randint(10**7, 10**9)} dollars.",
         f"Total passports: {rng.randint(10**8, 10**9 - 1)}"]
    )  # fmt: skip


def _device_counts_alone(rng: random.Random) -> str:
    """A device's or a channel's count: alone, in a dashboard, YAML or a list, with a unit
    word (or a CJK one) after it, a "%", a delta, a JSON number (not a string), a CSV's
    or a table's cells, and "iPhone" sales."""
    count = rng.randint(10**6, 10**9 - 1)
    word = rng.choice(["Mobile", "Cell", "WhatsApp", "Móvil", "Fax"])
    other = rng.randint(10**6, 10**9 - 1)
    return rng.choice(
        [f"{word}: {count} sessions", f"{word}: {count} ({rng.randint(1, 99)}%)",
         f'{{"{word.lower()}": {count}}}', f"{word},{count}", f"| {word} | {count} |",
         f"{word}: {count}", f"Sessions by device\n{word}: {count}\nDesktop: {other}",
         f"traffic:\n  {word.lower()}: {count}\n  desktop: {other}", f"- {word}: {count}",
         f"{word}: {count} → {other}", f"{word}: {count}次", f"{word}: {count}件",
         f"iPhone共{count}台", f"{word};{count};{rng.randint(1, 999)}"]
    )  # fmt: skip


def _cjk_technical(rng: random.Random) -> str:
    """Versions, digests, orders, dates and amounts written inside Chinese, Japanese or
    Korean text with no spaces around them."""
    return rng.choice(
        [f"版本{_semver(rng)}已发布\uff0c提交{_hex(rng, 40)}已合并。",
         f"订单号{_order(rng)}已于{_date(rng)}发货。",
         f"合计{rng.randint(10**5, 10**9)}元\uff0c请查收。",
         f"ビルド{_digits(rng, 9)}を{_date(rng)}にデプロイしました。",
         f"주문번호{_digits(rng, 9)}의 배송이 시작되었습니다"]
    )  # fmt: skip


def _hex_ids(rng: random.Random) -> str:
    """Lower-case hex identifiers of IBANs' lengths: trace and span ids, object ids."""
    return rng.choice(
        [f"trace_id={_hex(rng, 32)} span_id={_hex(rng, 16)}",
         f"ObjectId('{_hex(rng, 24)}') was updated.",
         f"Cache key {_hex(rng, 20)} and etag {_hex(rng, 22)} expired."]
    )  # fmt: skip


ORDINARY: dict[str, Line] = {
    "order_tracking": lambda r: (
        f"Order {_order(r)} was packed "
        f"on {_date(r)}; tracking {_tracking(r)}."
    ),
    "tracking_only": lambda r: (
        f"Tracking number {_tracking(r)} "
        f"shows the parcel in {r.choice(_CITIES)}."
    ),
    "ean": lambda r: (
        f"EAN {_ean13(r)} ({r.choice(_PRODUCTS)} "
        f"{r.randint(2, 24)}-pack) lists at {_amount(r)}."
    ),
    "ean_bare": lambda r: f"Scanned barcodes: {_ean13(r)}, {_ean13(r)}, {_ean13(r)}.",
    "upc_gtin": lambda r: (
        f"UPC {_gs1(_digits(r, 11, lead=string.digits))} and GTIN "
        f"{_gs1(str(r.randint(1, 8)) + _digits(r, 12, lead=string.digits))} are the same carton."
    ),
    "isbn": lambda r: (
        f"ISBN {_gs1(r.choice(['978', '979']) + _digits(r, 9, lead=string.digits))} (paperback), "
        f"ISBN-10 {_isbn10(_digits(r, 9, lead=string.digits))}; reprint due in {r.choice(_MONTHS)}."
    ),
    "isbn_hyphenated": lambda r: (
        "The handbook is ISBN "
        + "-".join(
            [
                "978",
                str(r.randint(0, 9)),
                _digits(r, 3),
                _digits(r, 5),
                _gs1("978" + _digits(r, 9, lead=string.digits))[-1],
            ]
        )
        + f", {r.randint(100, 900)} pages."
    ),
    "uuid": lambda r: (
        f"Request {_uuid(r)} failed with HTTP "
        f"{r.choice([409, 429, 503])}; retry {_uuid(r)}."
    ),
    "hashes": lambda r: f"Merged {_hex(r, 7)} into main; the release commit is {_hex(r, 40)}.",
    "digest": lambda r: f"Pull the image by digest sha256:{_hex(r, 64)} before {_date(r)}.",
    "account_ref": lambda r: (
        f"Posting reference {_account_ref(r)} "
        f"was booked to cost centre {_digits(r, 4)}."
    ),
    "amounts_dates": lambda r: (
        f"Paid {_amount(r)} on {_date(r)}; "
        f"{_amount(r)} outstanding as of {_date(r)}."
    ),
    "serial": lambda r: (
        f"Serial number {_serial(r)}, asset "
        f"tag AT-{_digits(r, 6)}, warranty until {_date(r)}."
    ),
    "serial_rma": lambda r: f"Device S/N {_serial(r)} was returned under RMA {_digits(r, 6)}.",
    "part": lambda r: (
        f"Part {_part(r)} replaces part {_part(r)} "
        f"in the {r.choice(_PRODUCTS)} assembly."
    ),
    "semver": lambda r: (
        f"Upgrade from {_semver(r)} to "
        f"{_semver(r)}; {_semver(r)} is the candidate."
    ),
    "pip_pin": lambda r: f"pip install {r.choice(_LIBS)}=={_ip_version(r)} fixed the import error.",
    "requirements_pin": lambda r: (
        f"Pin {r.choice(_LIBS)}=={_ip_version(r)} "
        f"in requirements.txt and rebuild."
    ),
    "ip_words": lambda r: (
        f"The {r.choice(_IP_WORDS)}"
        f" carries {r.choice(_PRODUCTS)} {_ip_version(r)}."
    ),
    "driver_version": lambda r: (
        f"Driver {_ip_version(r)} for the {r.choice(_PRODUCTS)} "
        f"chip ships in {r.choice(_MONTHS)}."
    ),
    "windows_build": lambda r: (
        f"Windows 10 build 10.0.{_digits(r, 5)}.{_digits(r, 4)}; "
        f"kernel 5.15.0-{_digits(r, 3)}-generic."
    ),
    "customer_ids": lambda r: (
        f"Customer {_long_id(r)} and account "
        f"{_long_id(r)} were merged into {_long_id(r)}."
    ),
    "message_id": lambda r: (
        f"Message id {_digits(r, 19, lead='1')} "
        f"was removed by the moderation bot."
    ),
    "transaction": lambda r: f"Transaction {_long_id(r)} settled on {_date(r)} for {_amount(r)}.",
    "batch_lot": lambda r: (
        f"Batch {_digits(r, 13)} of {r.choice(_PRODUCTS)} "
        f"passed QA; lot L{_digits(r, 6)}."
    ),
    "invoice_po": lambda r: (
        f"Invoice INV-{r.randint(2019, 2027)}-{_digits(r, 5)} "
        f"and PO 45{_digits(r, 8, lead=string.digits)} are attached."
    ),
    "receipt": lambda r: (
        f"Store {_digits(r, 4)} till {r.randint(1, 20)} "
        f"receipt {_digits(r, 4)}-{_digits(r, 3)}-{_digits(r, 6)}."
    ),
    "git_remote": lambda r: (
        f"Clone git@github.com:acme/{r.choice(_LIBS)}.git "
        f"and check out {_hex(r, 7)}."
    ),
    "npm_pin": lambda r: (
        f"npm install {r.choice(['lodash', 'react', '@types/node'])}@{_semver(r).lstrip('v')} "
        f"--save-exact"
    ),
    "timestamps": lambda r: (
        f"[{_date(r)[:4]}-0{r.randint(1, 9)}-1{r.randint(0, 9)}"
        f"T{r.randint(10, 23)}:{r.randint(10, 59)}:"
        f"{r.randint(10, 59)}.{_digits(r, 3)}Z] job {_digits(r, 8)} took {r.randint(1, 9999)} ms"
    ),
    "coordinates": lambda r: (
        f"The depot is at {r.uniform(-80, 80):.6f}, "
        f"{r.uniform(-170, 170):.6f}."
    ),
    "ip_reserved_word": lambda r: (
        f"{r.choice(['Set the server IP to', 'The loopback IP address is', 'Gateway IP:'])}"
        f" {_reserved_ip(r)} {r.choice(['and restart nginx.', 'for the dev stack.', ''])}"
    ),
    "email_reserved": lambda r: (
        f"{r.choice(['Set SMTP_FROM to', 'Log in as', 'Send a test mail to'])}"
        f" {_reserved_email(r)} in the config."
    ),
    "phone_fictional": lambda r: (
        f"{r.choice(['Call the front desk at', 'Phone:', 'Ring'])} {_fictional_phone(r)}"
        " to book a room."
    ),
    "ticket_year": lambda r: (
        f"Ticket {r.randint(2019, 2027)}-{_digits(r, 6)} "
        f"was merged into {r.randint(2019, 2027)}-{_digits(r, 6)}."
    ),
    "nine_digits_joined": lambda r: (
        f"{r.choice(['The record shows', 'Tax ID', 'Figure', 'The ledger holds'])} "
        + "-".join(
            _digits(r, n, lead=string.digits if i else "123456789")
            for i, n in enumerate(r.choice([(2, 7), (3, 6), (6, 3), (7, 2), (4, 5)]))
        )
        + f" {r.choice(['for this quarter.', 'on the header.', ''])}"
    ),
    "zip_plus_four": lambda r: (
        f"{r.choice(['Ship to', 'Our office:', 'Contact: billing,', 'Return address:'])}"
        f" {r.randint(1, 999)} {r.choice(_STREETS)}, {r.choice(_US_CITIES)}"
        f" {_digits(r, 5, lead=string.digits)}-{_digits(r, 4, lead=string.digits)}."
    ),
    "ip_public_resolver": lambda r: (
        f"{r.choice(['Point the resolver at IP', 'If lookups fail, set the DNS server IP to'])}"
        f" {r.choice(['8.8.8.8', '1.1.1.1', '9.9.9.9', '8.8.4.4', '208.67.222.222'])}."
    ),
    "phone_toll_free": lambda r: (
        f"{r.choice(['Call our support line at', 'Questions? Call', 'Freephone:'])}"
        f" {_toll_free(r)} {r.choice(['on weekdays.', '(24/7).', 'to reorder.'])}"
    ),
    "card_test": lambda r: (
        f"{r.choice(['In test mode, pay with', 'Use the test card', 'The sandbox accepts'])}"
        f" {_test_card(r)} {r.choice(['with any future expiry.', 'and CVC 123.', ''])}"
    ),
    "email_role": lambda r: (
        f"{r.choice(_ROLE_LEADS)}"
        f" {_role_email(r)}{r.choice(['.', ' on weekdays.', ', not to a person.'])}"
    ),
    "reference_3_4_2": _labelled_reference((3, 4, 2)),
    "reference_2_4_4": _labelled_reference((2, 4, 4)),
    "reference_4_3_3": _labelled_reference((4, 3, 3)),
    "reference_3_3_4": _labelled_reference((3, 3, 4)),
    "reference_next_line": _reference_next_line,
    "key_value_ids": lambda r: (
        f"ts={r.randint(1_600_000_000, 1_800_000_000)} user_id={_digits(r, 10)} "
        f"order:{_digits(r, 8)} status={r.choice([200, 201, 404])}"
    ),
    "thousands_grouped": _thousands_grouped,
    "security_words_nine_digits": lambda r: (
        f"{r.choice(['The security patch fixed', 'Our social media reach was', 'Plans cover'])}"
        f" {_digits(r, 9)} {r.choice(['requests', 'people', 'members'])} this year."
    ),
    "keys_before_grouped_numbers": lambda r: (
        f"ticket:{r.randint(2019, 2026)}-{_digits(r, 6)} build=0{_digits(r, 10)} "
        f"version:10.0.{_digits(r, 5)}.{r.randint(1, 9)} page=2%20of%20{r.randint(3, 9)}"
    ),
    "device_counts": _device_counts,
    "account_amounts": _account_amounts,
    "device_counts_alone": _device_counts_alone,
    "cjk_technical": _cjk_technical,
    "hex_ids": _hex_ids,
}  # fmt: skip
"""Kind -> a line of ordinary text carrying identifiers of that kind (none personal)."""


def _card(rng: random.Random) -> tuple[str, int]:
    """A Luhn-valid card number of a common brand, and its brand's grouping length."""
    prefix, length = rng.choice(
        [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
         ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16)]
    )  # fmt: skip
    return _luhn(prefix + _digits(rng, length - len(prefix) - 1, lead=string.digits)), length


def _grouped(number: str, separator: str) -> str:
    if len(number) in (14, 15):
        return separator.join([number[:4], number[4:10], number[10:]])
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def _nhs(rng: random.Random) -> str:
    while True:
        body = _digits(rng, 9, lead="4")
        check = 11 - sum(int(c) * (10 - i) for i, c in enumerate(body)) % 11
        if check != 10:
            return body + str(0 if check == 11 else check)


_IBAN_LENGTHS = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16}


def _iban(rng: random.Random) -> str:
    country = rng.choice(sorted(_IBAN_LENGTHS))
    bban = _digits(rng, _IBAN_LENGTHS[country] - 4, lead=string.digits)
    if country in ("GB", "NL"):
        bank = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
        bban = bank + bban[4:]
    elif country == "IT":  # the check letter (CIN) before the bank code
        bban = rng.choice(string.ascii_uppercase) + bban[1:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return iban if rng.random() < 0.5 else " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return rng.choice("- ").join(
        [f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"]
    )


def _phone(rng: random.Random) -> str:
    region, shapes = rng.choice(
        [
            ("US", ["({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}"]),
            ("GB", ["+44 20 7{b} {c}", "020 7{b} {c}", "+44 7700 9{b}{d}"]),
            ("DE", ["+49 30 {c}{h}", "030 {c}{h}", "0151 {c}{h}"]),
            ("FR", ["+33 1 {d} {e} {f} {g}", "01 {d} {e} {f} {g}", "06 {d} {e} {f} {g}"]),
        ]
    )
    while True:
        text = rng.choice(shapes).format(
            a=rng.choice(["212", "415", "617", "312", "646", "503"]),
            b=_digits(rng, 3, lead="23456789"),
            c=_digits(rng, 4, lead=string.digits),
            h=_digits(rng, 4, lead=string.digits),
            **{key: _digits(rng, 2, lead=string.digits) for key in "defg"},
        )
        # 555-0100 to 555-0199 are fictional (``ORDINARY["phone_fictional"]``).
        fictional = "555" in text and text[-4:-2] == "01"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)) and not fictional:
            return text


def _area_then_rest(rng: random.Random) -> str:
    """An Israeli, Italian, Dutch or Irish number as people there write it: the area
    code with its trunk prefix, then the rest in one block ("050-1234567")."""
    while True:
        region, area, size = rng.choice(
            [("IL", "050", 7), ("IL", "03", 7), ("IT", "347", 7), ("NL", "020", 7),
             ("IE", "087", 7), ("IE", "01", 7)]
        )  # fmt: skip
        text = f"{area}{rng.choice('- ')}{_digits(rng, size, lead='23456789')}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


def _dialled_phone(rng: random.Random) -> str:
    """A national number written with its trunk prefix ("020 7946 0958", "06 12 34 56 78")."""
    while not (phone := _phone(rng)).startswith("0"):
        pass
    return phone


def _bare(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit() or c == "+")


def _email(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = rng.choice(
        [f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}"]
    )
    return f"{local}@{rng.choice(_DOMAINS)}"


def _bare_card_with_word(rng: random.Random) -> str:
    number, _ = _card(rng)
    word = rng.choice(["card", "Visa", "credit card", "card number", "debit card", "Mastercard"])
    return rng.choice(
        [f"Charge the {word} {number} for the renewal.", f"My {word} is {number}, expiring 04/28."]
    )


_LINE_BREAKS = ["\n", "\r\n", "\u2028"]


def _on_next_line(rng: random.Random) -> str:
    """A phone or NHS number starting the line after a word (a contact block, a reply):
    a line break is no part of the number's token, and a word ending the line before
    names nothing about it."""
    nhs = _nhs(rng)
    value = rng.choice([_phone(rng), _dialled_phone(rng), f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"])
    before = rng.choice(["Thanks, we got your order", "Contact", rng.choice(_FIRST).title()])
    return before + rng.choice(_LINE_BREAKS) + value


def _phone_written_tight(rng: random.Random) -> str:
    """A phone number right after its key and ":" or "=" (a vCard's TEL, a tel: link, a
    query string), or in a row of "|"-separated fields."""
    key = rng.choice(["Tel:", "Phone:", "TEL;TYPE=CELL:", "mobile=", "tel:"])
    # A bare number in a row is as much an order or customer number as in prose (it
    # needs a phone word there too: ``PERSONAL["phone_bare_with_word"]``).
    row = f"{rng.choice(_FIRST).title()}|{rng.choice(_LAST).title()}|{_phone(rng)}|"
    return rng.choice(
        [key + rng.choice([_phone(rng), _bare(_phone(rng))]), row + rng.choice(_CITIES)]
    )


def _phone_in_code_or_url(rng: random.Random) -> str:
    """A phone number after a literal escape (code, JSON encoded twice), as a query
    string's value, or after an ellipsis."""
    name, phone = rng.choice(_FIRST).title(), _phone(rng)
    return rng.choice(
        [
            f'print("{name}\\n{phone}")',
            f'{{"note": "Call {name}\\t{phone}"}}',
            f"https://example.org/cb?phone={_bare(phone)}&lang=en",
            f"call {name}...{phone}",
        ]
    )


def _spanish_number(rng: random.Random) -> str:
    """A valid Spanish number in one of its own groupings ("612 345 678", "612 34 56 78")."""
    while True:
        digits = rng.choice("679") + _digits(rng, 8, lead=string.digits)
        number = phonenumbers.parse(digits, "ES")
        toll_free = phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE
        if phonenumbers.is_valid_number(number) and not toll_free:  # 900: a company's
            return rng.choice(
                [f"{digits[:3]} {digits[3:6]} {digits[6:]}",
                 f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"]
            )  # fmt: skip


def _phone_three_groups(rng: random.Random) -> str:
    """A Spanish number after a phone word or key, tight, in a row of fields or as a JSON
    value."""
    number, name = _spanish_number(rng), rng.choice(_FIRST).title()
    return rng.choice(
        [f"Móvil: {number}", f"Tel:+34 {number}", f"Teléfono {number}",
         f"{name}|{rng.choice(_LAST).title()}|tel:{number}|{rng.choice(_CITIES)}",
         f'{{"name": "{name}", "phone_number": "{number}"}}']
    )  # fmt: skip


def _phone_key_variants(rng: random.Random) -> str:
    """A phone number written tight after a key abbreviated, numbered, compound or in
    another language, or after a name as the key."""
    phone = _phone(rng)
    key = rng.choice(
        ["Tel.:", "Mob.", "tel2:", "Ph.:", "phone_number=", "mobileNumber:", "Telefon-Nr.:",
         "Tél:", "home_phone="]
    )  # fmt: skip
    named = f"{rng.choice(_FIRST).title()}:{phone}"
    return rng.choice([key + rng.choice([phone, _bare(phone)]), named])


def _e164(phone: str) -> str:
    """``phone`` (of ``_phone``'s regions) with its country code, as "+447911123456"."""
    for region in ("US", "GB", "DE", "FR"):
        parsed = phonenumbers.parse(phone, region)
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise ValueError(phone)


def _phone_escaped_or_linked(rng: random.Random) -> str:
    """A phone number written with escapes (JSON's "\\u00a0" or "\\u002B", a URL's
    "%2B" and "%20", HTML's "&#43;" and "&nbsp;"), or in a WhatsApp link."""
    phone, name = _phone(rng), rng.choice(_FIRST).title()
    json_escaped = phone.replace("+", "\\u002B").replace(" ", "\\u00a0")
    return rng.choice(
        [
            f'{{"note": "Call {name} on {json_escaped}"}}',
            f"https://example.org/cb?tel={urllib.parse.quote(phone)}&lang=en",
            f"<p>Call {name}: {phone.replace('+', '&#43;').replace(' ', '&nbsp;')}</p>",
            f"Chat with {name}: https://wa.me/{_e164(phone)[1:]}?text=Hi",
        ]
    )


def _labelled_bare_id(rng: random.Random) -> str:
    """An SSN, a US passport or a driver's licence number written without separators
    right after its label, or as the value of a JSON key naming it."""
    ssn = "".join(c for c in _ssn(rng) if c.isdigit())
    passport = rng.choice([_digits(rng, 9), rng.choice(string.ascii_uppercase) + _digits(rng, 8)])
    licence = rng.choice(string.ascii_uppercase) + _digits(rng, 7, lead=string.digits)
    return rng.choice(
        [f"SSN: {ssn}", f"Her social security number is {ssn}.", f"Passport No. {passport}",
         f"passport number: {passport}", f"Driver's license: {licence}",
         f'{{"ssn": "{ssn}", "passport_no": "{passport}"}}']
    )  # fmt: skip


def _labelled_id_variant(rng: random.Random) -> str:
    """Labels of ``_labelled_bare_id``'s kind written otherwise: SSN and TIN together,
    a "#", a bank account's number after its label, a Spanish "Cel"."""
    ssn = "".join(c for c in _ssn(rng) if c.isdigit())
    passport = rng.choice([_digits(rng, 9), rng.choice(string.ascii_uppercase) + _digits(rng, 8)])
    account = _digits(rng, rng.randint(8, 14), lead=string.digits)
    return rng.choice(
        [f"SSN/TIN: {ssn}", f"TIN/SSN {ssn}", f"SSN or TIN: {ssn}", f"Passport #{passport}",
         f"Bank account number: {account}", f"Checking acct #{account}", f"A/C No: {account}",
         f"Savings account no. {account}", f"Acct. no.: {account}",
         f'{{"bank_account": "{account}"}}', f"Cel: {_phone(rng)}"]
    )  # fmt: skip


def _cjk_embedded(rng: random.Random) -> str:
    """An SSN, an NHS number, an e-mail address or an IBAN inside Chinese, Japanese or
    Korean text, with no space around it."""
    ssn = _ssn(rng).replace(" ", "-")
    nhs = _nhs(rng)
    return rng.choice(
        [f"我的社会安全号码是{ssn}\uff0c请保密。", f"社会保障番号は{ssn}です。",
         f"NHS番号{nhs[:3]} {nhs[3:6]} {nhs[6:]}です。", f"请发邮件到{_email(rng)}谢谢",
         f"请转账到{_iban(rng).replace(' ', '')}。", f"주민번호는 {ssn}입니다"]
    )  # fmt: skip


def _spaced_id(rng: random.Random) -> str:
    """An SSN or a US passport number after its label, in three groups of digits."""
    ssn = _ssn(rng).replace("-", " ")
    passport = _digits(rng, 9)
    spaced = f"{passport[:3]} {passport[3:6]} {passport[6:]}"
    return rng.choice(
        [f"SSN: {ssn}", f"Social security number {ssn}.", f"Passport: {spaced}",
         f"passport number is {spaced}."]
    )  # fmt: skip


def _phone_device_word_keyed(rng: random.Random) -> str:
    """A bare nine-digit phone after a word that also heads a device's count ("Mobile"),
    with a number word, as a person's, as a JSON string, or keyed in a contact record."""
    number = "".join(_spanish_number(rng).split())
    word = rng.choice(["Mobile", "Cell", "WhatsApp", "Móvil", "Fax"])
    name = rng.choice(_FIRST).title()
    return rng.choice(
        [f"{word} number {number}", f'{{"{word.lower()}": "{number}"}}',
         f"Name: {name}, {word}: {number}, Email: {_email(rng)}",
         f"{name} {rng.choice(_LAST).title()}\n{word}: {number}\n{_email(rng)}",
         f"Her {word.lower()} is {number}."]
    )  # fmt: skip


PERSONAL: dict[str, Line] = {
    "card_grouped": lambda r: f"The value on file is {_grouped(_card(r)[0], r.choice(' -'))}.",
    "card_with_word": _bare_card_with_word,
    "nhs_grouped": lambda r: f"Patient record: {' '.join([(n := _nhs(r))[:3], n[3:6], n[6:]])}",
    "nhs_with_word": lambda r: f"Her NHS number is {_nhs(r)}.",
    "iban": lambda r: f"Please pay the invoice to {_iban(r)} by Friday.",
    "ssn_with_word": lambda r: (
        f"{r.choice(['SSN', 'Social security number', 'His SSN is'])} "
        f"{_ssn(r)}."
    ),
    "email": lambda r: f"Send the contract to {_email(r)} before {r.choice(_MONTHS)}.",
    "email_name_and_role": lambda r: (
        f"Ask {(n := r.choice(_FIRST))} directly at "
        f"{r.choice(['support', 'sales', 'billing'])}.{n}@{r.choice(_DOMAINS)}."
    ),
    "phone": lambda r: f"Call {_phone(r)} to confirm the delivery.",
    "phone_no_word": lambda r: f"Contact details on file: {_phone(r)}.",
    "phone_bare_with_word": lambda r: f"Her mobile: {_bare(_phone(r))}",
    "ip_public_word": lambda r: (
        f"{r.choice(['Her home IP address is', 'The customer connected from IP'])}"
        f" {_public_ip(r)}."
    ),
    "phone_labelled_with_word": lambda r: (
        f"{r.choice(['Call about order', 'Ring the item desk, item'])} {_phone(r)}."
    ),
    "nhs_labelled_with_word": lambda r: (
        f"NHS ref {'-'.join([(n := _nhs(r))[:3], n[3:6], n[6:]])} is on the referral."
    ),
    "phone_area_then_rest": lambda r: f"{r.choice(_FIRST).title()}, {_area_then_rest(r)}",
    "on_next_line": _on_next_line,
    "phone_written_tight": _phone_written_tight,
    "phone_in_code_or_url": _phone_in_code_or_url,
    "phone_dialled_labelled": lambda r: (
        f"{r.choice(['Customer ref:', 'Order no.', 'Ticket', 'Ref'])} {_dialled_phone(r)}"
    ),
    "phone_three_groups": _phone_three_groups,
    "phone_key_variants": _phone_key_variants,
    "phone_escaped_or_linked": _phone_escaped_or_linked,
    "id_labelled_bare": _labelled_bare_id,
    "id_labelled_variants": _labelled_id_variant,
    "phone_nine_digits_labelled": lambda r: (
        f"{r.choice(['Teléfono: ', 'Phone: ', 'Tel:', 'Tel. ', 'phone_number=', 'Mobile:'])}"
        f"{r.choice('67')}{_digits(r, 8, lead=string.digits)}"
    ),
    "cjk_embedded": _cjk_embedded,
    "iban_lower_case": lambda r: f"Please pay the invoice to {_iban(r).lower()} by Friday.",
    "id_spaced_groups": _spaced_id,
    "phone_device_word_keyed": _phone_device_word_keyed,
}  # fmt: skip
"""Kind -> a line carrying one personal identifier of that kind."""


def ordinary_line(rng: random.Random) -> str:
    return ORDINARY[rng.choice(sorted(ORDINARY))](rng)


def personal_line(rng: random.Random) -> str:
    return PERSONAL[rng.choice(sorted(PERSONAL))](rng)
