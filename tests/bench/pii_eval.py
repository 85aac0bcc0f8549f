"""The PII development evaluation set, generated: Faker values in sentence templates.

Deterministic for a seed. Three parts:

* ``positives``: one value of a known type in a sentence (value offsets kept), for every
  type the gateway must catch; a share of them in obfuscated or international forms.
* ``lookalikes``: values that look like identifiers but are not personal data (product
  codes, versions, log timestamps, UUIDs, order/RMA/ticket numbers, commit hashes,
  medical codes, prices, ports), each in a business sentence.
* ``ordinary``: everyday chat prompts (languages, countries in questions, tech and
  product names, formats, relative dates, URLs, code and data snippets).

    uv run python tests/bench/pii_eval.py --write eval.jsonl   # to look at it
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass
from typing import Any

from faker import Faker

SEED = 20261201


@dataclass(frozen=True)
class Sample:
    kind: str  # positive | lookalike | ordinary
    type: str  # the entity type (positives), the look-alike kind, or "ordinary"
    text: str
    start: int = 0
    end: int = 0


POSITIVE_TEMPLATES = [
    "Please send the contract to {v} before Friday.",
    "Customer record: {v}",
    "Can you check why {v} was rejected yesterday?",
    "{v} is what the form says, is that right?",
    "Hi team, the value on file is {v}. Thanks!",
    "Update the account ({v}) and close the ticket.",
    "My details: {v}",
    "He wrote '{v}' in the notes field",
]

_INVISIBLE = ["\u200b", "\u00ad", "\u2060", "\u200d"]


def _fullwidth(value: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in value)


def _obfuscate(rng: random.Random, value: str) -> str:
    """Zero-width or soft-hyphen characters between digits, or fullwidth digits."""
    if rng.random() < 0.5:
        return _fullwidth(value)
    mark = rng.choice(_INVISIBLE)
    return "".join(c + mark if c.isdigit() and rng.random() < 0.5 else c for c in value)


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = body + check
        total = 0
        for index, char in enumerate(reversed(digits)):
            value = int(char)
            if index % 2:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        if total % 10 == 0:
            return digits
    raise AssertionError


def _group(number: str, rng: random.Random) -> str:
    sep = rng.choice(["", " ", "-"])
    if not sep:
        return number
    if len(number) == 15 or len(number) == 14:
        parts = [number[:4], number[4:10], number[10:]]
    else:
        parts = [number[i : i + 4] for i in range(0, len(number), 4)]
    return sep.join(parts)


def _values(fake: Faker, fakes: dict[str, Faker], rng: random.Random) -> dict[str, Any]:
    """One generator per type."""

    def card() -> str:
        prefix, length = rng.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("2300", 16),
             ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14),
             ("62", 16), ("4", 13), ("6304", 19)]
        )  # fmt: skip
        return _group(_luhn_complete(prefix, length, rng), rng)

    def phone() -> str:
        locale = rng.choice(["en_US", "en_US", "en_GB", "de_DE", "fr_FR", "en_IN", "en_CA"])
        return str(fakes[locale].phone_number())

    def iban() -> str:
        locale = rng.choice(["de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT"])
        value = str(fakes[locale].iban())
        if rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ip() -> str:
        return str(rng.choice([fake.ipv4_public, fake.ipv4_private, fake.ipv6])())

    def address() -> str:
        locale = rng.choice(["en_US", "en_US", "en_GB"])
        f = fakes[locale]
        if locale == "en_US":
            return f"{f.street_address()}, {f.city()}, {f.state_abbr()} {f.zipcode()}"
        return f"{f.street_address()}, {f.city()} {f.postcode()}"

    return {
        "EMAIL_ADDRESS": lambda: rng.choice([fake.email, fake.company_email, fake.free_email])(),
        "PHONE_NUMBER": phone,
        "CREDIT_CARD": card,
        "IBAN_CODE": iban,
        "IP_ADDRESS": ip,
        "US_SSN": fake.ssn,
        "PERSON": lambda: f"{fake.first_name()} {fake.last_name()}",
        "STREET_ADDRESS": address,
    }


def positives(
    fake: Faker, fakes: dict[str, Faker], rng: random.Random, per_type: int
) -> list[Sample]:
    out: list[Sample] = []
    for entity, make in _values(fake, fakes, rng).items():
        for index in range(per_type):
            value = str(make())
            if index % 5 == 4 and entity in {"CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "IBAN_CODE"}:
                value = _obfuscate(rng, value)
            template = rng.choice(POSITIVE_TEMPLATES)
            start = template.index("{v}")
            text = template.replace("{v}", value)
            out.append(Sample("positive", entity, text, start, start + len(value)))
    return out


LOOKALIKE_TEMPLATES = [
    "We moved the workload to {v} last sprint.",
    "See {v} in the release notes.",
    "The dashboard shows {v} for this account.",
    "Reference: {v}",
    "Escalated {v} to the vendor.",
]


def _lookalike_values(fake: Faker, rng: random.Random) -> dict[str, Any]:
    return {
        "product_code": lambda: rng.choice(
            [
                "S3",
                "EKS",
                "C4",
                "m5.xlarge",
                "t3.micro",
                "EC2",
                "RDS",
                "GKE",
                "A100",
                "H100",
                "ThinkPad X1",
                "iPhone 15",
                "Galaxy S24",
                "Model 3",
                "PS5",
                "Xbox Series X",
            ]
        ),
        "version": lambda: (
            rng.choice(["v", "version ", "", "release "])
            + ".".join(str(rng.randint(0, 20)) for _ in range(rng.choice([2, 3])))
        ),
        "log_timestamp": lambda: rng.choice(
            [
                fake.iso8601(),
                fake.date_time().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
                fake.date_time().strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
            ]
        ),
        "uuid": lambda: str(fake.uuid4()),
        "order_number": lambda: (
            rng.choice(["order ", "Order #", "PO-", "INV-", "invoice "])
            + str(rng.randint(10_000, 99_999_999))
        ),
        "rma_number": lambda: f"RMA-{rng.randint(100_000, 999_999)}",
        "ticket": lambda: f"{rng.choice(['JIRA', 'OPS', 'SEC', 'INC'])}-{rng.randint(10, 99_999)}",
        "commit_hash": lambda: fake.sha1()[: rng.choice([7, 12, 40])],
        "medical_code": lambda: rng.choice(
            [
                "ICD-10 E11.9",
                "ICD-10 I10",
                "CPT 99213",
                "ICD-10 J45.909",
                "SNOMED 44054006",
                "LOINC 4548-4",
                "ICD-10 M54.5",
            ]
        ),
        "price": lambda: f"${rng.randint(1, 99_999)}.{rng.randint(0, 99):02d}",
        "port": lambda: f"port {rng.choice([22, 80, 443, 5432, 6379, 8080, 9200])}",
        "sku": lambda: fake.bothify("SKU-??-#####").upper(),
        "tracking": lambda: fake.bothify("1Z###########").upper(),
        "hex_color": lambda: fake.hex_color(),
        "build_number": lambda: f"build {rng.randint(1000, 99999)}",
    }


def lookalikes(fake: Faker, rng: random.Random, per_kind: int) -> list[Sample]:
    out: list[Sample] = []
    for kind, make in _lookalike_values(fake, rng).items():
        for _ in range(per_kind):
            value = str(make())
            template = rng.choice(LOOKALIKE_TEMPLATES)
            start = template.index("{v}")
            out.append(
                Sample("lookalike", kind, template.replace("{v}", value), start, start + len(value))
            )
    return out


ORDINARY_TEMPLATES = [
    "Reply in {fmt}.",
    "Convert this table to {fmt}: name,age\\nfoo,3",
    "What is the capital of {country}?",
    "How many people live in {country}?",
    "Translate this paragraph to {language}, please.",
    "Is {language} hard to learn for an English speaker?",
    "How do I deploy a service on {tech}?",
    "Compare {tech} and {tech2} for a small team.",
    "Write a {lang} function that reverses a list.",
    "Schedule the review {when}.",
    "Remind me {when} to update the {tech} cluster.",
    "Summarise {url} for me.",
    "Why does my {lang} code throw a KeyError?",
    "Give me three ideas for a team offsite in {country}.",
    "Explain the difference between {fmt} and {fmt2}.",
    "What changed in {tech} {ver}?",
    "Draft a polite reply declining the meeting {when}.",
    "List the pros and cons of {tech} for startups.",
    'Fix this {fmt}: {{"a": 1, "b": [2, 3]}}',
    "What's the time difference between {country} and {country2}?",
    "Write a haiku about {tech}.",
    "How do I parse {fmt} in {lang}?",
    "Is it rude to email a colleague {when}?",
    "Our {tech} bill doubled, where should I look first?",
]

FILLERS = {
    "fmt": ["JSON", "CSV", "YAML", "XML", "Markdown", "TOML", "HTML", "Parquet"],
    "country": ["France", "Japan", "Brazil", "Germany", "Canada", "Kenya", "India", "Spain",
                "Australia", "Mexico", "Norway", "Egypt"],
    "language": ["German", "French", "Spanish", "Japanese", "Portuguese", "Italian", "Dutch",
                 "Korean", "Mandarin", "Arabic"],
    "tech": ["Kubernetes", "Docker", "Terraform", "PostgreSQL", "Redis", "Kafka", "React",
             "Django", "AWS Lambda", "Azure", "BigQuery", "Snowflake", "Elasticsearch",
             "GitHub Actions", "Ansible", "Grafana"],
    "lang": ["Python", "Rust", "Go", "Java", "TypeScript", "Kotlin", "C#", "Ruby"],
    "when": ["next Monday at 10am", "tomorrow morning", "on Friday", "in two weeks",
             "at 3pm today", "next quarter", "this weekend", "before the end of the month"],
    "url": ["https://docs.python.org/3/library/re.html", "https://kubernetes.io/docs/home/",
            "https://en.wikipedia.org/wiki/Rust_(programming_language)",
            "https://www.rfc-editor.org/rfc/rfc9110"],
    "ver": ["1.29", "3.12", "v2", "2.0", "15"],
}  # fmt: skip


def ordinary(rng: random.Random, count: int) -> list[Sample]:
    out: list[Sample] = []
    for _ in range(count):
        template = rng.choice(ORDINARY_TEMPLATES)
        values = {k: rng.choice(v) for k, v in FILLERS.items()}
        values.update(
            tech2=rng.choice(FILLERS["tech"]),
            fmt2=rng.choice(FILLERS["fmt"]),
            country2=rng.choice(FILLERS["country"]),
        )
        out.append(Sample("ordinary", "ordinary", template.format(**values)))
    return out


def evaluation_set(
    seed: int = SEED, per_type: int = 200, per_kind: int = 40, prompts: int = 500
) -> list[Sample]:
    rng = random.Random(seed)
    Faker.seed(seed)
    fake = Faker("en_US")
    fakes = {loc: Faker(loc) for loc in ["en_US", "en_GB", "de_DE", "fr_FR", "en_IN", "en_CA",
                                          "nl_NL", "es_ES", "it_IT"]}  # fmt: skip
    return (
        positives(fake, fakes, rng, per_type)
        + lookalikes(fake, rng, per_kind)
        + ordinary(rng, prompts)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    with open(args.write, "w", encoding="utf-8") as out:
        for sample in evaluation_set(args.seed):
            out.write(json.dumps(asdict(sample), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
