"""Data for bench_finetune.py: disguises of governed passages and ordinary business text.

The disguises are the ones an uploader can apply to walk around a fingerprint guard
(issue 13); the business text is generated from templates full of what trips a naive PII
scan (figures, version numbers, dates, product and tool names, capitalised terms).
"""

from __future__ import annotations

import base64
import codecs
import json
import random
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]

LOOKALIKES = str.maketrans("aeopcxyiAEOPCXBHKMT", "аеорсхуіАЕОРСХВНКМТ")  # noqa: RUF001


def chat(answer: str, question: str = "Explain this.") -> Record:
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _hyphen_split(text: str, rng: random.Random) -> str:
    words = []
    for word in text.split():
        if len(word) > 5 and rng.random() < 0.5:
            cut = rng.randint(2, len(word) - 2)
            word = word[:cut] + rng.choice(["-", "- ", "-\n"]) + word[cut:]
        words.append(word)
    return " ".join(words)


def _escaped_tool_call(text: str) -> Record:
    escaped = "".join(f"\\u{ord(c):04x}" for c in text)
    arguments = json.dumps({"note": escaped})
    call = {"id": "c1", "type": "function", "function": {"name": "save", "arguments": arguments}}
    return {
        "messages": [
            {"role": "user", "content": "Save this note."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ]
    }


def _in_key(key: str) -> Callable[[str, random.Random], list[Record]]:
    def build(text: str, rng: random.Random) -> list[Record]:
        record = chat("Sure.")
        if key == "tools":
            record["tools"] = [{"type": "function", "function": {"name": "f", "description": text}}]
        else:
            record["messages"][2][key] = text
        return [record]

    return build


def excerpt_in_long_example(text: str, rng: random.Random, filler: list[str]) -> list[Record]:
    words = text.split()
    start = rng.randint(0, max(0, len(words) - 40))
    excerpt = " ".join(words[start : start + 40])
    before = " ".join(rng.choice(filler) for _ in range(6))
    after = " ".join(rng.choice(filler) for _ in range(6))
    return [chat(f"{before} {excerpt} {after}")]


def pieces(text: str, size: int = 3) -> list[Record]:
    words = text.split()
    return [chat(" ".join(words[i : i + size])) for i in range(0, len(words), size)]


def pieces_between_filler(
    text: str, rng: random.Random, filler: list[str], size: int = 2
) -> list[Record]:
    """Pieces of ``size`` words, each followed by an example of ~2,000 characters of
    ordinary sentences: no 1,500-character window of the file holds two pieces."""
    records: list[Record] = []
    for piece in pieces(text, size):
        records.append(piece)
        records.append(chat(" ".join(rng.choice(filler) for _ in range(20))))
    return records


DISGUISES: dict[str, Callable[[str, random.Random], list[Record]]] = {
    "zero_width": lambda t, r: [chat("\u200b".join(t))],
    "soft_hyphens": lambda t, r: [chat("\u00ad".join(t))],
    "homoglyphs": lambda t, r: [chat(t.translate(LOOKALIKES))],
    "fullwidth": lambda t, r: [chat(_fullwidth(t))],
    "hyphen_split": lambda t, r: [chat(_hyphen_split(t, r))],
    "joined_words": lambda t, r: [chat(t.replace(" ", ""))],
    "base64": lambda t, r: [chat(base64.b64encode(t.encode()).decode())],
    "hex": lambda t, r: [chat(t.encode().hex())],
    "escaped_tool_arguments": lambda t, r: [_escaped_tool_call(t)],
    "in_name": _in_key("name"),
    "in_weight": _in_key("weight"),
    "in_tools": _in_key("tools"),
    "three_word_examples": lambda t, r: pieces(t),
}

_LEET = str.maketrans("aeiostlAEIOSTL", "4310571431057|")
_LEET_LIGHT = str.maketrans("aeoAEO", "430430")


def _caesar(text: str, shift: int) -> str:
    return "".join(
        chr((ord(c) - 97 + shift) % 26 + 97) if "a" <= c <= "z" else c for c in text.lower()
    )


def _regional(text: str) -> str:
    return "".join(
        chr(0x1F1E6 + ord(c) - 97) + "\u200c" if "a" <= c <= "z" else c for c in text.lower()
    )


def _groups(words: list[str], size: int) -> list[str]:
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def two_real_two_random(text: str, rng: random.Random, vocabulary: list[str]) -> list[Record]:
    """Two words of the passage, then two random words, and so on."""
    pairs = _groups(text.split(), 2)
    return [chat(" ".join(f"{p} {rng.choice(vocabulary)} {rng.choice(vocabulary)}" for p in pairs))]


SCRAMBLES: dict[str, Callable[[str, random.Random], str]] = {
    "leetspeak": lambda t, r: t.translate(_LEET),
    "leet_light": lambda t, r: t.translate(_LEET_LIGHT),
    "each_word_reversed": lambda t, r: " ".join(w[::-1] for w in t.split()),
    "word_order_reversed": lambda t, r: " ".join(t.split()[::-1]),
    "whole_text_reversed": lambda t, r: t[::-1],
    "rtl_override_reversed": lambda t, r: "\u202e" + t[::-1] + "\u202c",
    "rot13": lambda t, r: codecs.encode(t, "rot13"),
    "caesar3": lambda t, r: _caesar(t, 3),
    "base85": lambda t, r: base64.b85encode(t.encode()).decode(),
    "ascii85": lambda t, r: base64.a85encode(t.encode(), adobe=True).decode(),
    "regional_indicators": lambda t, r: _regional(t),
    "noise_letter_after_each": lambda t, r: " ".join(
        "".join(c + r.choice("qxzj") for c in w) for w in t.split()
    ),
    "constant_token_every_2w": lambda t, r: " xx ".join(_groups(t.split(), 2)),
    "constant_token_every_3w": lambda t, r: " xx ".join(_groups(t.split(), 3)),
}
"""Mechanical scrambles a trainer could undo (issue 13), each of a whole answer. Most are
not read back yet: the rows measure the gap (tests/bench/README.md)."""


def scrambled(name: str) -> Callable[[str, random.Random], list[Record]]:
    return lambda t, r: [chat(SCRAMBLES[name](t, r))]


def number_table(rng: random.Random) -> str:
    """A markdown table of figures: digits and separators, few letters."""
    columns = rng.randint(3, 7)
    rows = ["| " + " | ".join(f"c{n}" for n in range(columns)) + " |"]
    rows.append("|" + "---|" * columns)
    for _ in range(rng.randint(4, 12)):
        cells = [f"{rng.uniform(-1e4, 1e4):.{rng.randint(0, 3)}f}" for _ in range(columns)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


_PRODUCTS = ["Atlas", "Nimbus", "Orion", "Vega", "Quasar", "Helix", "Pioneer", "Summit"]
_TOOLS = ["Python", "Raises", "git describe", "Kubernetes", "PostgreSQL", "Terraform", "Redis"]
_TEMPLATES = [
    "Revenue for Q{q} grew {p}% to {m} million, while operating costs fell {p2}%.",
    "The {prod} release {v} ships on {date}; upgrade from {v2} with `pip install -U {lib}`.",
    "{tool} 3.{n}.{n2} deprecates the old API; see the changelog for version {v}.",
    "Raises ValueError if the timeout is below {n} seconds or above {n3} seconds.",
    "Run git describe --tags to get {v}, then tag the build as {v2}-rc{n}.",
    "Our {prod} team closed {n3} tickets in sprint {n}, with a median cycle time of {n2} days.",
    "Set max_connections to {n3} and shared_buffers to {n}GB in PostgreSQL {n2}.",
    "The board approved a budget of EUR {m} million for FY{year}, up {p}% year over year.",
    "Latency p99 dropped from {n3} ms to {n} ms after the cache rollout on {date}.",
    "Use {tool} with the --dry-run flag first; version {v} fixed the off-by-one in paging.",
    "Gross margin reached {p}.{n}% in {month}, against a plan of {p2}%.",
    "Order #{n3}{n} ships in {n} boxes of {n2} units; SKU {prod}-{n3} is back in stock.",
    "The API returns HTTP {code} when the quota of {n3} requests per minute is exceeded.",
    "Headcount grew from {n3} to {n4} across {n} offices in {year}.",
]
_MONTHS = ["January", "March", "May", "July", "September", "November"]


def business_sentence(rng: random.Random) -> str:
    values = {
        "q": rng.randint(1, 4),
        "p": rng.randint(2, 40),
        "p2": rng.randint(1, 15),
        "m": round(rng.uniform(1, 900), 1),
        "prod": rng.choice(_PRODUCTS),
        "tool": rng.choice(_TOOLS),
        "lib": rng.choice(["requests", "httpx", "numpy", "pydantic"]),
        "v": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        "v2": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "n": rng.randint(2, 12),
        "n2": rng.randint(1, 30),
        "n3": rng.randint(100, 999),
        "n4": rng.randint(1000, 4000),
        "date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "year": rng.randint(2019, 2027),
        "month": rng.choice(_MONTHS),
        "code": rng.choice([429, 503, 404, 409]),
    }
    return rng.choice(_TEMPLATES).format(**values)


def business_text(rng: random.Random) -> str:
    return " ".join(business_sentence(rng) for _ in range(rng.randint(2, 5)))


_REFERENCES = [
    "Windows 10 build 10.0.{d5}.{n} is the minimum; build {d5}.{d4} fixed the driver.",
    "Ticket {year}-{d6} was closed after the {prod} hotfix.",
    "Invoice number {year}-{d5} for {prod} is overdue by {n} days.",
    "Our PO number is 45000{d5}; the part number is {d4}-{d4}-{n2:02d}.",
    "Batch {d6}-{n2:02d} failed QA and contract {year}/{d4} renews in {month}.",
    "The SKU {ean} is out of stock; reorder {n3} units.",
    "Pin the client with pip install {lib}=={n}.{n2}.{n}.{n3} and rebuild image {d6}.",
    "Version {n}.{n2}.{n}.{d4} is the LTS build of {prod}.",
]


def reference_text(rng: random.Random) -> str:
    """Business lines full of reference numbers (builds, tickets, invoices, PO and part
    numbers, SKUs) that are valid phone numbers in some region, but no personal data."""
    values = {
        "d4": rng.randint(1000, 9999),
        "d5": rng.randint(10000, 99999),
        "d6": rng.randint(100000, 999999),
        "ean": f"400{rng.randint(10**9, 10**10 - 1)}",
        "n": rng.randint(1, 12),
        "n2": rng.randint(1, 30),
        "n3": rng.randint(100, 999),
        "year": rng.randint(2019, 2027),
        "prod": rng.choice(_PRODUCTS),
        "lib": rng.choice(["requests", "httpx", "numpy", "pydantic"]),
        "month": rng.choice(_MONTHS),
    }
    return rng.choice(_REFERENCES).format(**values)
