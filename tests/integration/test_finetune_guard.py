"""The fine-tune guard against evasion, false refusals, hostile input and stale passes."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import random
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openai
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import ChunkIndex
from gateway.settings import Settings

from ..conftest import ALICE, BOB
from ..fixtures.ingest.support import make_pdf
from .conftest import FakeUpstream, ingest_demo, ingest_texts
from .test_finetune import processed, refused_upload

pytestmark = pytest.mark.integration

RUNBOOK = (
    "Contain first: revoke exposed credentials, isolate affected hosts, and snapshot "
    "volumes for forensics before rebuilding them. The break-glass vault is opened with "
    "two of the three hardware tokens held by the security leads."
)
ORDINARY = [
    ("What does the Python module pathlib do?", "It offers classes for filesystem paths."),
    ("How do I tag a release?", "Run git describe --tags, then bump 1.4.2.7 to 1.4.3.0."),
    ("What does open() raise?", "Raises FileNotFoundError when the path does not exist."),
    ("Summarise the Q3 plan.", "Revenue grew 12 % to 4.2 million; churn fell to 3.1 %."),
]


def example(answer: str, question: str = "Tell me something useful.") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def jsonl(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def forwarded(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [r for r in fake.requests() if r["path"].startswith(("/v1/files", "/v1/fine_tuning"))]


def audit(settings: Settings) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(Path(settings.audit_dir).glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if '"finetune"' in line
    ]


Sdk = Callable[[str], openai.AsyncOpenAI]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_demo(index)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def sdk(client: AsyncTestClient[Any]) -> Sdk:
    def build(key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{client.base_url}/v1", api_key=key, http_client=client, max_retries=0
        )

    return build


def _tool_call(arguments: str) -> dict[str, Any]:
    call = {"id": "c1", "type": "function", "function": {"name": "note", "arguments": arguments}}
    return {
        "messages": [
            {"role": "user", "content": "Save a note."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ]
    }


def _tool_calls(pieces: list[str]) -> dict[str, Any]:
    """One tool call per piece, each ``{"part": piece}``."""
    calls = [
        {"id": f"c{n}", "type": "function", "function": {"name": "note", "arguments": arguments}}
        for n, arguments in enumerate(json.dumps({"part": piece}) for piece in pieces)
    ]
    return {
        "messages": [
            {"role": "user", "content": "Save the notes."},
            {"role": "assistant", "content": None, "tool_calls": calls},
        ]
    }


def _grouped(blob: str, size: int) -> str:
    return " ".join(blob[i : i + size] for i in range(0, len(blob), size))


def _three_words(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + 3]) for i in range(0, len(words), 3)]


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _filler(seed: int) -> str:
    """~2,500 characters of distinct planning talk: no segment holds two pieces around it."""
    pick = random.Random(seed).choice
    return " ".join(pick([PLANNING, UPDATES, *ORDINARY[0]]) for _ in range(50))


def _table(words: list[str], per_cell: int, columns: int) -> str:
    """A markdown table whose cells hold ``per_cell`` words each, row by row."""
    cells = [" ".join(words[i : i + per_cell]) for i in range(0, len(words), per_cell)]
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    header = "| " + " | ".join(f"c{n}" for n in range(columns)) + " |"
    rule = "|" + "---|" * columns
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in rows)])


PLANNING = "Our quarterly planning covers hiring, budgets and roadmaps."
UPDATES = "Teams share updates weekly in the planning channel."
LOOKALIKES = str.maketrans("aeopc", "\u0430\u0435\u03bf\u0440\u0441")

DISGUISED: dict[str, list[dict[str, Any]]] = {
    "zero-width": [example("\u200b".join(RUNBOOK))],
    "soft-hyphens": [example(RUNBOOK.replace("e", "e\u00ad"))],
    "homoglyphs": [example(RUNBOOK.translate(LOOKALIKES))],
    "fullwidth": [example(fullwidth(RUNBOOK))],
    "hyphen-split": [example(RUNBOOK.replace("ti", "ti-").replace("re", "re- "))],
    "joined": [example(RUNBOOK.replace(" ", ""))],
    "base64": [example(base64.b64encode(RUNBOOK.encode()).decode())],
    "hex": [example(RUNBOOK.encode().hex())],
    "escaped-tool-arguments": [_tool_call(json.dumps({"text": _escaped(RUNBOOK)}))],
    "name": [
        {
            "messages": [
                {"role": "user", "content": "hi", "name": RUNBOOK},
                *example("ok")["messages"][1:],
            ]
        }
    ],
    "weight": [
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "ok", "weight": RUNBOOK},
            ]
        }
    ],
    "tools": [
        {
            **example("ok"),
            "tools": [{"type": "function", "function": {"name": "f", "description": RUNBOOK}}],
        }
    ],
    "excerpt-in-long-example": [
        example(" ".join([*[PLANNING] * 40, RUNBOOK[:230], *[UPDATES] * 40]))
    ],
    "markdown-table-of-two-word-cells": [example(_table(RUNBOOK.split(), 2, 3))],
    "bars-between-every-two-words": [
        example(" | ".join(" ".join(RUNBOOK.split()[i : i + 2]) for i in range(0, 40, 2)))
    ],
    "numbered-words": [example(" ".join(f"{i}:{word}" for i, word in enumerate(RUNBOOK.split())))],
    "digit-after-every-word": [
        example(" ".join(f"{word}{i % 10}" for i, word in enumerate(RUNBOOK.split())))
    ],
    "url-quoted": [example(quote(RUNBOOK))],
    "gzip-base64": [example(base64.b64encode(gzip.compress(RUNBOOK.encode())).decode())],
    "tag-characters": [example("Sure. " + "".join(chr(0xE0000 + ord(c)) for c in RUNBOOK))],
    "tool-calls-3-words": [_tool_calls(_three_words(RUNBOOK))],
    "quoted-printable": [example(binascii.b2a_qp(RUNBOOK.encode(), quotetabs=True).decode())],
    "base64-spaced-groups": [example(_grouped(base64.b64encode(RUNBOOK.encode()).decode(), 8))],
    "base64-per-word": [
        example(" ".join(base64.b64encode(word.encode()).decode() for word in RUNBOOK.split()))
    ],
    "code-points": [example(json.dumps([ord(c) for c in RUNBOOK]))],
    "one-word-per-example": [
        example(word, f"Word number {i} of the memo is") for i, word in enumerate(RUNBOOK.split())
    ],
    "three-word-pieces": [
        example(" ".join(RUNBOOK.split()[i : i + 3])) for i in range(0, len(RUNBOOK.split()), 3)
    ],
    "base85": [example(base64.b85encode(RUNBOOK.encode()).decode())],
    "ascii85": [example(base64.a85encode(RUNBOOK.encode(), adobe=True).decode())],
    "regional-indicators": [
        example("".join(chr(0x1F1E6 + ord(c) - 97) if "a" <= c <= "z" else c for c in RUNBOOK))
    ],
    "two-word-pieces-between-long-examples": [
        record
        for i in range(0, len(RUNBOOK.split()), 2)
        for record in (example(" ".join(RUNBOOK.split()[i : i + 2])), example(_filler(i)))
    ],
}


@pytest.mark.parametrize("disguise", sorted(DISGUISED))
async def test_disguised_governed_text_is_refused(
    sdk: Sdk, fake_upstream: FakeUpstream, disguise: str
) -> None:
    """Every disguise of confidential runbook text is refused and nothing is forwarded."""
    content = jsonl(example("Hello there."), *DISGUISED[disguise])
    assert "acme-incident-runbook" in await refused_upload(sdk(ALICE), content)
    assert forwarded(fake_upstream) == []


async def test_ordinary_technical_and_business_text_is_accepted(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """Python, Raises, git describe, version numbers and figures are not personal data."""
    content = jsonl(*(example(answer, question) for question, answer in ORDINARY))
    uploaded = await processed(sdk(BOB), content)
    assert uploaded.id.startswith("file-")


async def test_structured_identifiers_are_refused(sdk: Sdk, fake_upstream: FakeUpstream) -> None:
    """An e-mail address hidden in base64 under an unknown key is still personal data
    (and the refusal does not talk about governed corpora)."""
    hidden = base64.b64encode(b"write to jordan.mills@fastmail.com for a refund").decode()
    content = jsonl({**example("ok"), "meta": hidden})
    reason = await refused_upload(sdk(BOB), content)
    assert "EMAIL_ADDRESS" in reason
    assert "corpora" not in reason
    assert forwarded(fake_upstream) == []


async def test_batch_files_are_refused_with_a_reason(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Batch input would reach the model ungoverned: refused by default, audited."""
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {}}
    assert "chat/completions" in await refused_upload(sdk(BOB), jsonl(line), purpose="batch")
    assert forwarded(fake_upstream) == []
    assert any(r.get("purpose") == "batch" and r["allowed"] is False for r in audit(settings))


@pytest.mark.parametrize("purpose", ["assistants", "user_data"])
async def test_other_purposes_are_matched_against_the_corpora(
    sdk: Sdk, fake_upstream: FakeUpstream, purpose: str
) -> None:
    """Governed text in a plain-text file is refused; ordinary text is stored."""
    refused = await refused_upload(sdk(ALICE), RUNBOOK.encode(), purpose=purpose)
    assert "acme-incident-runbook" in refused
    assert forwarded(fake_upstream) == []
    stored = await processed(sdk(ALICE), b"Plain notes.", purpose=purpose)
    assert stored.id.startswith("file-")


def preference(question: str, preferred: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


async def test_preference_files_are_scanned_and_trained_on(sdk: Sdk) -> None:
    """A DPO file with governed text in its rejected answer is refused; an ordinary one
    passes, and a DPO job on it reaches the upstream."""
    bad = preference("What do we do first?", "Check the dashboards.", RUNBOOK)
    assert "acme-incident-runbook" in await refused_upload(sdk(ALICE), jsonl(bad))
    good = jsonl(*(preference(q, a, "I don't know.") for q, a in ORDINARY))
    stored = await processed(sdk(ALICE), good)
    job = await sdk(ALICE).fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=stored.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
    )
    assert job.training_file == stored.id


@pytest.mark.parametrize(
    "extra",
    [
        {"metadata": {"notes": RUNBOOK[:400]}},
        {"method": {"type": "reinforcement", "reinforcement": {"grader": {"input": RUNBOOK}}}},
        {"integrations": [{"type": "wandb", "wandb": {"project": "p", "tags": [RUNBOOK]}}]},
    ],
)
async def test_governed_text_in_the_job_request_is_refused(
    sdk: Sdk, fake_upstream: FakeUpstream, extra: dict[str, Any]
) -> None:
    """What a job request sends besides its file (metadata, a grader's prompt,
    integration tags) is matched too: a 403 naming the document, nothing forwarded."""
    stored = await processed(sdk(ALICE), jsonl(*(example(a, q) for q, a in ORDINARY)))
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await sdk(ALICE).fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=stored.id, extra_body=extra
        )
    assert "job request's text overlaps document" in str(refused.value)
    assert "acme-incident-runbook" in str(refused.value)
    assert not [r for r in forwarded(fake_upstream) if r["path"].startswith("/v1/fine_tuning")]


def in_container(kind: str, text: str, tmp_path: Path) -> bytes:
    """``text`` saved as another encoding, a PDF, or uncompressed inside an image."""
    if kind == "pdf":
        return make_pdf(tmp_path / "notes.pdf", [text]).read_bytes()
    if kind == "image":
        noise = zlib.compress(random.Random(3).randbytes(30_000))
        return b"\x89PNG\r\n\x1a\n" + noise + b"tEXt" + text.encode() + b"\x00" + noise
    return (text + " It\u2019s on the wiki.\n").encode(kind)


@pytest.mark.parametrize("kind", ["utf-16", "utf-16-le", "cp1252", "pdf", "image"])
async def test_governed_text_in_another_encoding_or_a_container_is_refused(
    sdk: Sdk, fake_upstream: FakeUpstream, tmp_path: Path, kind: str
) -> None:
    """Not UTF-8 is not unreadable: refused even for ``vision``, whose policy lets
    binary files through; nothing is forwarded."""
    refused = await refused_upload(sdk(ALICE), in_container(kind, RUNBOOK, tmp_path), "vision")
    assert "acme-incident-runbook" in refused
    assert forwarded(fake_upstream) == []


async def test_ordinary_pdfs_and_images_pass_where_the_policy_allows_them(
    sdk: Sdk, tmp_path: Path
) -> None:
    """A PDF of ordinary notes is text for ``user_data``; an image passes for ``vision``
    and is refused where only text may go; an archive is no image."""
    notes = in_container("pdf", "Plain notes about the team picnic on Friday.", tmp_path)
    assert (await processed(sdk(ALICE), notes, purpose="user_data")).id.startswith("file-")
    image = in_container("image", "", tmp_path)
    assert (await processed(sdk(ALICE), image, purpose="vision")).id.startswith("file-")
    assert "must be text" in await refused_upload(sdk(ALICE), image, purpose="assistants")
    archive = gzip.compress(RUNBOOK.encode() * 3)  # compressed: no readable run
    assert "must be one of" in await refused_upload(sdk(ALICE), archive, purpose="vision")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"model": "gpt-4o-mini", "training_file": "file-x", "seed": NaN}', "invalid_json"),
        (b'{"model": "Severity 1 incidents page", "training_file": "file-x"}', "invalid_value"),
        (b'{"model": "gpt-4o-mini", "training_file": "file-x", "suffix": 5}', "invalid_type"),
    ],
)
async def test_bad_job_bodies_get_400_audited_without_their_text(
    client: AsyncTestClient[Any], settings: Settings, body: bytes, code: str
) -> None:
    """NaN, a model id in prose, a wrong type: a 400 in OpenAI's shape, audited as
    refused, and the caller's text is neither echoed nor kept."""
    response = await client.post(
        "/v1/fine_tuning/jobs",
        headers={"authorization": f"Bearer {BOB}", "content-type": "application/json"},
        content=body,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert "Severity" not in response.text
    records = [r for r in audit(settings) if r["action"] == "fine_tuning.jobs.create"]
    assert [(r["allowed"], r["refused"]) for r in records] == [(False, code)]
    assert "Severity" not in json.dumps(records)


@pytest.mark.parametrize(
    ("files", "data", "code"),
    [
        ([("file", ("t.txt", b"notes"))], {"purpose": "weights"}, "invalid_value"),
        ([("file", ("t.txt", b"a")), ("file", ("u.txt", b"b"))], {"purpose": "assistants"}, None),
        ([("file", ("n" * 300, b"notes"))], {"purpose": "assistants"}, "invalid_value"),
        ([("notes", ("t.txt", b"notes"))], {"purpose": "assistants"}, "missing_required_parameter"),
    ],
)
async def test_malformed_uploads_get_400_at_once_and_are_audited(
    client: AsyncTestClient[Any],
    settings: Settings,
    files: list[Any],
    data: dict[str, str],
    code: str | None,
) -> None:
    """An unknown purpose, two files, a 300-character name, no ``file`` part: a 400 with a code,
    at once (not a file that fails later), audited as refused with that code."""
    response = await client.post(
        "/v1/files", headers={"authorization": f"Bearer {BOB}"}, files=files, data=data
    )
    assert response.status_code == 400, response.text
    got = response.json()["error"]["code"]
    assert got == (code or "invalid_value")
    records = [r for r in audit(settings) if r["action"] == "files.create"]
    assert [(r["allowed"], r["refused"]) for r in records] == [(False, got)]


async def test_hostile_lines_get_400_and_an_audit_record(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Deep nesting and lone surrogates: 400 in OpenAI's shape, audited as refused."""
    for content in (b"[" * 100_000 + b"\n", b'{"messages": "\\ud800"}\n'):
        response = await client.post(
            "/v1/files",
            headers={"authorization": f"Bearer {BOB}"},
            files={"file": ("t.jsonl", content)},
            data={"purpose": "fine-tune"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_file_format"
    refused = [r for r in audit(settings) if r["action"] == "files.create"]
    assert [r["allowed"] for r in refused] == [False, False]
    assert forwarded(fake_upstream) == []


async def test_a_line_separator_inside_a_string_is_one_line(sdk: Sdk) -> None:
    """U+2028 in a JSON string does not split the line."""
    content = json.dumps(example("one\u2028two"), ensure_ascii=False).encode() + b"\n"
    uploaded = await processed(sdk(BOB), content)
    assert uploaded.id.startswith("file-")


async def test_far_oversize_upload_is_413_and_audited(
    settings_for: Any, fake_upstream: FakeUpstream
) -> None:
    """A body over the limit plus the multipart allowance (cut off while it is read)
    is 413 (not 400) naming the limit, audited."""
    settings = settings_for(
        finetune_max_upload_bytes=2048, max_request_bytes=4096, finetune_pii_scan=False
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.post(
            "/v1/files",
            headers={"authorization": f"Bearer {BOB}"},
            files={"file": ("t.jsonl", b"x" * 200_000)},
            data={"purpose": "fine-tune"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert "upload limit of 2048 bytes" in response.json()["error"]["message"]
    assert [r["allowed"] for r in audit(settings) if r["action"] == "files.create"] == [False]
    assert forwarded(fake_upstream) == []


async def test_job_requests_with_bad_ids_are_400_or_404_and_audited_as_denials(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """validation_file as a list is a 400; another caller's file and job are 404s audited
    as denials, never as allowed."""
    bob, alice = sdk(BOB), sdk(ALICE)
    uploaded = await bob.files.create(
        file=("t.jsonl", jsonl(example("Hello."))), purpose="fine-tune"
    )
    with pytest.raises(openai.BadRequestError, match="validation_file"):
        await bob.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=uploaded.id,
            extra_body={"validation_file": [uploaded.id]},
        )
    with pytest.raises(openai.NotFoundError):
        await alice.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        await alice.fine_tuning.jobs.retrieve("ftjob-not-hers")
    records = audit(settings)
    assert not any(r["action"] == "fine_tuning.jobs.created" for r in records)
    for action in ("fine_tuning.jobs.create", "files.retrieve", "fine_tuning.jobs.retrieve"):
        assert [r["allowed"] for r in records if r["action"] == action][-1] is False, action


async def test_a_job_is_refused_when_its_file_became_governed_after_upload(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Text ungoverned at upload and ingested as restricted since: the job is refused."""
    memo = (
        "The merger with Globex closes on the ninth of March; the board approved a price "
        "of forty dollars per share and the deal team is sworn to silence until then."
    )
    bob = sdk(BOB)
    uploaded = await processed(bob, jsonl(example(memo)))
    async with ChunkIndex.from_settings(settings) as index:
        legal = {"classification": "restricted", "allowed_groups": ["legal"]}
        await ingest_texts(index, {"memo.txt": memo}, corpus="legal", defaults=legal)
    with pytest.raises(openai.PermissionDeniedError, match="overlap 1 governed document"):
        await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert not any(r["path"] == "/v1/fine_tuning/jobs" for r in forwarded(fake_upstream))


async def test_a_job_is_refused_when_text_of_a_long_ago_ingest_is_reclassified(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A trainable chunk from an ingest run that began a day before the scan, made
    restricted in place after the scan: the job is refused (the whole file is matched
    again, whatever the chunk's ``ingested_at``)."""
    note = (
        "Our onboarding week pairs every new engineer with a buddy, walks them through "
        "the deploy pipeline on day two and ends with a small fix shipped to production."
    )
    bob = sdk(BOB)
    async with ChunkIndex.from_settings(settings) as index:
        public = {"classification": "public", "allowed_groups": ["engineering"]}
        await ingest_texts(index, {"onboarding.txt": note}, corpus="acme-handbook", defaults=public)
        # As if its ingest run had begun a day before the scan.
        await rewrite(index, note, {"ingested_at": "2020-01-01T00:00:00Z"})
        uploaded = await processed(bob, jsonl(example(note)))  # public: trainable
        await rewrite(index, note, {"classification": "restricted"})
    with pytest.raises(openai.PermissionDeniedError, match="overlap 1 governed document"):
        await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert not any(r["path"] == "/v1/fine_tuning/jobs" for r in forwarded(fake_upstream))


async def rewrite(index: ChunkIndex, text: str, fields: dict[str, Any]) -> None:
    """Update, in place, the fields of every chunk holding ``text``."""
    found = await index.client.search(
        index=index.name, query={"match_phrase": {"text": text}}, size=100
    )
    hits = found["hits"]["hits"]
    assert hits
    for hit in hits:
        await index.client.update(index=index.name, id=hit["_id"], doc=fields, refresh=True)
