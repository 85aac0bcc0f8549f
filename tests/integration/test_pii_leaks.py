"""Issue #10's leak cases against the real stack: what the fake upstream recorded is checked.

Every case is a caller's own request (retrieval off, an ordinary employee key, the
default policy). Values are checked in the raw upstream body after normalising it
(NFKC, invisible and combining characters dropped, separators ignored for numbers), so
an obfuscated value that survived would be found.
"""

import base64
import json
import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records_soon

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
HEADERS = {"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    from gateway.app import create_app

    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def _flat(text: str) -> str:
    """Lower-cased, NFKC, without format/combining characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me")).lower()


def _digits(text: str) -> str:
    return re.sub(r"\D", "", _flat(text))


def _assert_absent(raw: str, secrets: list[str]) -> None:
    flat, digits = _flat(raw), _digits(raw)
    for secret in secrets:
        if re.fullmatch(r"[\d\W]+", secret):
            assert _digits(secret) not in digits, secret
        else:
            assert _flat(secret) not in flat, secret


async def _send(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, body: dict[str, Any]
) -> str:
    response = await client.post(CHAT, json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    return str(received["raw_body"])


def _ask(content: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


KEPT_TYPE_CASES = [
    ("Paid by Visa 4193-7394-3055-4701, authorised 2023-04-08.", ["4193-7394-3055-4701"]),
    ("Please ask LewisAbbott@teleworm.us about the invoice.", ["LewisAbbott@teleworm.us"]),
    ("Mr Lewis Abbott SSN 536-22-8170 signed it.", ["536-22-8170"]),
    ("Server 2001:4860:4860::8888 is down, said Peter Grant.", ["2001:4860:4860::8888", "4860"]),
]


@pytest.mark.parametrize(("content", "secrets"), KEPT_TYPE_CASES)
async def test_a_kept_type_never_hides_a_redacted_one(
    client: AsyncTestClient[Any],
    fake_upstream: FakeUpstream,
    settings: Settings,
    content: str,
    secrets: list[str],
) -> None:
    """A PERSON span the policy keeps does not carry a card, e-mail, SSN or IP upstream,
    and the audit record names what was redacted."""
    raw = await _send(client, fake_upstream, _ask(content))
    _assert_absent(raw, secrets)
    (record,) = await audit_records_soon(settings, "request", 1)
    redactions = record["message_redactions"]
    assert redactions
    assert all(r["site"] == "messages[0].content" for r in redactions)
    assert all(set(r) == {"site", "entity_type", "operator", "count"} for r in redactions)
    assert not any(secret in json.dumps(record) for secret in secrets)


OBFUSCATED = [
    # fullwidth digits
    (
        "My SSN is " + "".join(chr(0xFF10 + int(d)) if d.isdigit() else d for d in "536-22-8170"),
        ["536228170"],
    ),
    # zero-width spaces inside a card number
    ("Card 4193\u200b7394\u200b3055\u200b4701 please", ["4193739430554701"]),
    # soft hyphens
    ("SSN 536\u00ad22\u00ad8170", ["536228170"]),
    # combining marks on digits
    ("card 4\u03011\u030393 7394 3055 4701", ["4193739430554701"]),
    # 2-series Mastercard
    ("Charge my Mastercard 2223 0031 2200 3222 today", ["2223003122003222"]),
]


@pytest.mark.parametrize(("content", "secrets"), OBFUSCATED)
async def test_obfuscated_values_are_redacted(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, content: str, secrets: list[str]
) -> None:
    """Fullwidth digits, zero-width spaces, soft hyphens, combining marks and 2-series
    Mastercard numbers do not get through."""
    raw = await _send(client, fake_upstream, _ask(content))
    _assert_absent(raw, secrets)


HIDDEN_FORMS = [
    ("Call me back: https://example.org/cb?tel=%2B447911123456&lang=en", ["447911123456"]),
    ('Parse this: {"note": "call Anna on 07911\\u00a0123456"}', ["07911", "123456"]),
    ("<p>Call Anna: &#43;44&nbsp;7911&nbsp;123456</p>", ["7911", "123456"]),
    ("Mob.07911 123456 any time, or tel2:+14155552671", ["07911123456", "4155552671"]),
    ("Anna|Ruiz|tel:612 345 678|Lugo", ["612345678"]),
    ("Her SSN: 536228726, passport number 912803456.", ["536228726", "912803456"]),
    # Chinese and Japanese write no space around a number or an address.
    ("NHS番号943 476 5919です。邮箱anna.li@example.com谢谢", ["943 476", "anna.li"]),
    ("Pay de89 3704 0044 0532 0130 00 and SSN: 536 22 8726", ["de89", "536 22"]),
]


@pytest.mark.parametrize(("content", "secrets"), HIDDEN_FORMS)
async def test_values_hidden_by_how_they_are_written_are_redacted(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, content: str, secrets: list[str]
) -> None:
    """Escapes written as text (a URL's %2B, JSON's \\u00a0, HTML's &#43;), phone keys
    abbreviated, numbered or tight in a row, numbers only their label names, numbers
    inside CJK text and lower-case IBANs do not reach the model."""
    raw = await _send(client, fake_upstream, _ask(content))
    _assert_absent(raw, secrets)


def _email(site: str) -> str:
    return f"leak.{site}@corp-mail.example.com"


SITE_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "user": _email("user"),
    "stop": [_email("stop")],
    "metadata": {"owner": _email("metadata")},
    "prediction": {"type": "content", "content": f"Write to {_email('prediction')}"},
    "x_extra": {"note": f"contact {_email('extra')}"},
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "reply",
            "schema": {
                "type": "object",
                "description": f"owner {_email('schema')}",
                "properties": {"a": {"type": "string", "description": _email("schemaprop")}},
            },
        },
    },
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": f"Ask {_email('tooldesc')}",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "q": {"type": "string", "description": f"e.g. {_email('param')}"}
                    },
                },
            },
        }
    ],
    "messages": [
        {"role": "user", "name": _email("name"), "content": "hello"},
        {
            "role": "assistant",
            "content": None,
            "refusal": f"I will not mail {_email('refusal')}",
            "function_call": {"name": "lookup", "arguments": json.dumps({"q": _email("fcall")})},
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"q": _email("tcall")})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"found {_email('tool')}"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"see {_email('part')}"},
                {
                    "type": "file",
                    "file": {
                        "filename": f"{_email('filename')}.txt",
                        "file_data": "data:text/plain;base64,"
                        + base64.b64encode(f"mail {_email('filedata')}".encode()).decode(),
                    },
                },
            ],
        },
    ],
}


async def test_every_site_of_the_body_is_redacted(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """Tool-call and function-call arguments, tool and parameter descriptions, names, user,
    metadata, prediction, schema descriptions, refusal, stop, unknown keys, file names
    and text file data: no e-mail reaches the upstream, each site is in the audit."""
    raw = await _send(client, fake_upstream, SITE_BODY)
    assert "corp-mail.example.com" not in raw
    sent = json.loads(raw)
    data = sent["messages"][3]["content"][1]["file"]["file_data"].split(",", 1)[1]
    assert "corp-mail" not in base64.b64decode(data).decode()
    assert sent["tools"][0]["function"]["name"] == "lookup"
    assert sent["messages"][1]["tool_calls"][0]["id"] == "call_1"
    (record,) = await audit_records_soon(settings, "request", 1)
    sites = {r["site"] for r in record["message_redactions"]}
    assert {
        "user",
        "stop[0]",
        "metadata.owner",
        "prediction.content",
        "x_extra.note",
        "response_format.json_schema.schema.description",
        "tools[0].function.description",
        "tools[0].function.parameters.properties.q.description",
        "messages[0].name",
        "messages[1].refusal",
        "messages[1].function_call.arguments",
        "messages[1].tool_calls[0].function.arguments",
        "messages[2].content",
        "messages[3].content[0].text",
        "messages[3].content[1].file.filename",
        "messages[3].content[1].file.file_data",
    } <= sites
    assert "corp-mail" not in json.dumps(record)


async def test_binary_content_is_refused_by_default_policy(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """An image the gateway cannot inspect is refused (403), audited, never forwarded."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").decode()
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    }
    response = await client.post(CHAT, json=body, headers=HEADERS)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"]
    assert fake_upstream.requests() == []
    (record,) = await audit_records_soon(settings, "request", 1)
    assert record["allowed"] is False


ORDINARY = [
    "Reply in JSON.",
    "what is the capital of France?",
    "How do I deploy this on Kubernetes next Monday at 10am?",
    "Translate this paragraph to German, please.",
    "Where is order number 12345?",
    "Summarise https://docs.python.org/3/library/re.html for me.",
    # A hex digest holding two letters and seven digits (Presidio's DEA pattern).
    "Why does commit 3fe2a0ff2208658c1d9e4b7a20c5d8e1f0a9b3c2 fail on staging?",
    "Request 6ff22086-58c1-4d9e-8b7a-20c5d8e1f0a9 timed out; retry it.",
    "The contract runs from 01.03.2024 to 31.12.2024; the invoice is dated 14-02-2021.",
    # Passes mod 97, but no country's IBAN is written so.
    "The service returned VY57QKAY7EVEQQ1 as the batch code.",
    "版本3.2.1已发布\uff0c提交3fe2a0ff2208658c1d9e4b7a20c5d8e1f0a9b3c2已合并。",
]


@pytest.mark.parametrize("content", ORDINARY)
async def test_ordinary_prompts_reach_the_model_unchanged(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, content: str
) -> None:
    """Formats, countries in questions, tech names, relative dates, languages, order
    numbers and URLs are not rewritten."""
    raw = await _send(client, fake_upstream, _ask(content))
    assert json.loads(raw)["messages"][-1]["content"] == content
