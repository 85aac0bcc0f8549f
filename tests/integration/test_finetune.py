"""Files and fine-tuning through the official openai SDK, against the app in process."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.audit.records import undeclared
from gateway.elastic import ChunkIndex
from gateway.settings import Settings

from ..conftest import ALICE, BOB, CAROL
from .conftest import FakeUpstream, ingest_demo

pytestmark = pytest.mark.integration

UNRELATED = "To reverse a list in Python, use slicing with a step of minus one."
VACATION = (
    "Every employee at Acme has 28 days of paid vacation per calendar year. Unused days "
    "carry over until the end of March of the following year."
)
RUNBOOK_EDITED = (
    "contain FIRST -- revoke the exposed credentials; isolate all affected hosts and "
    "snapshot the volumes for forensics before rebuilding them. The break glass vault is "
    "opened with two of the three hardware tokens held by the security leads!"
)
KEY_ACCOUNTS = (
    "Initech is at risk after the outage in May. The account owner is planning a visit "
    "with their CTO, Peter Gibbons."
)
PRICING = (
    "The Team plan costs 19 euros per seat per month, billed annually. The Business plan "
    "costs 49 euros per seat per month."
)


def example(answer: str, question: str = "Tell me something useful.") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def jsonl(*examples: dict[str, Any]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in examples).encode()


def forwarded(fake: FakeUpstream) -> list[dict[str, Any]]:
    """What the upstream received on the files and fine-tuning endpoints (other suites
    may talk to the same fake upstream's chat endpoint meanwhile)."""
    return [r for r in fake.requests() if r["path"].startswith(("/v1/files", "/v1/fine_tuning"))]


Sdk = Callable[[str], openai.AsyncOpenAI]


async def settled(client: openai.AsyncOpenAI, file_id: str, timeout_s: float = 60.0) -> Any:
    """The file object once its background scan has ended (status not ``uploaded``)."""
    deadline = time.monotonic() + timeout_s
    while (found := await client.files.retrieve(file_id)).status == "uploaded":
        assert time.monotonic() < deadline, f"{file_id} still uploaded after {timeout_s} s"
        await asyncio.sleep(0.05)
    return found


async def processed(
    client: openai.AsyncOpenAI,
    content: bytes,
    purpose: str = "fine-tune",
    name: str = "train.jsonl",
) -> Any:
    """Upload and wait: the file object of a file that passed the scan."""
    uploaded = await client.files.create(file=(name, content), purpose=purpose)
    assert uploaded.status == "uploaded"
    done = await settled(client, uploaded.id)
    assert done.status == "processed", done.status_details
    return done


async def refused_upload(
    client: openai.AsyncOpenAI, content: bytes, purpose: str = "fine-tune"
) -> str:
    """Upload and wait for a refusal: the reason in ``status_details``; for a fine-tune
    file, a job on it is then refused with 403 saying the same."""
    uploaded = await client.files.create(file=("train.jsonl", content), purpose=purpose)
    done = await settled(client, uploaded.id)
    assert done.status == "error"
    details = str(done.status_details)
    if purpose == "fine-tune":
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
        assert isinstance(refused.value.body, dict)
        assert refused.value.body["code"] == "finetune_file_refused"
        assert details in refused.value.body["message"]
    return details


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_demo(index)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client
    # The records the test made hold only fields their type (and so the docs) declares.
    drift = {field for record in _audit(settings) for field in undeclared(record)}
    assert not drift, f"audit fields no record type declares: {sorted(drift)}"


@pytest.fixture
def sdk(app_client: AsyncTestClient[Any]) -> Sdk:
    def build(key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{app_client.base_url}/v1",
            api_key=key,
            http_client=app_client,
            max_retries=0,
        )

    return build


def _audit(settings: Settings) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(Path(settings.audit_dir).glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if '"finetune"' in line
    ]


async def test_clean_upload_and_job_lifecycle_are_proxied(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Public and unrelated text is forwarded once scanned; create, list, retrieve, events
    and cancel work, with the gateway's file id in and out."""
    bob = sdk(BOB)
    content = jsonl(example(UNRELATED), example(VACATION))
    uploaded = await bob.files.create(file=("train.jsonl", content), purpose="fine-tune")
    assert uploaded.id.startswith("file-")
    assert uploaded.status == "uploaded"
    assert (await settled(bob, uploaded.id)).status == "processed"
    upload_request = next(r for r in forwarded(fake_upstream) if r["path"] == "/v1/files")
    assert upload_request["body"]["content"] == content.decode()
    assert upload_request["body"]["purpose"] == "fine-tune"
    assert upload_request["headers"]["authorization"] == "Bearer sk-fake-upstream-key"
    assert [f.id for f in (await bob.files.list()).data] == [uploaded.id]
    assert (await bob.files.retrieve(uploaded.id)).id == uploaded.id
    stored = next(r for r in _audit(settings) if r["action"] == "files.stored")
    upstream_id = stored["upstream_file_id"]

    job = await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert job.training_file == uploaded.id
    created = next(r for r in forwarded(fake_upstream) if r["path"] == "/v1/fine_tuning/jobs")
    assert created["body"] == {"model": "gpt-4o-mini", "training_file": upstream_id}
    assert [j.id for j in (await bob.fine_tuning.jobs.list()).data] == [job.id]
    retrieved = await bob.fine_tuning.jobs.retrieve(job.id)
    assert retrieved.status == "validating_files"
    assert retrieved.training_file == uploaded.id
    events = await bob.fine_tuning.jobs.list_events(job.id)
    assert events.data[0].object == "fine_tuning.job.event"
    assert (await bob.fine_tuning.jobs.cancel(job.id)).status == "cancelled"
    assert any(
        r["path"] == f"/v1/fine_tuning/jobs/{job.id}/cancel" for r in forwarded(fake_upstream)
    )
    deleted = await bob.files.delete(uploaded.id)
    assert deleted.deleted is True
    assert any(r["path"] == f"/v1/files/{upstream_id}" for r in forwarded(fake_upstream))
    assert (await bob.files.list()).data == []


async def test_upload_answers_before_the_scan_and_jobs_wait_for_it(
    app_client: AsyncTestClient[Any], sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The upload is answered with status ``uploaded`` while its scan waits; a job on a
    file still scanned is a 400 (audited as refused); nothing is forwarded before the
    scan has passed."""
    bob = sdk(BOB)
    scans = app_client.app.state.services.finetune.scans
    async with scans._slots:  # every scan slot taken: the upload's scan must wait
        async with asyncio.TaskGroup() as group:
            for _ in range(settings.finetune_scan_concurrency - 1):
                group.create_task(scans._slots.acquire())
        uploaded = await bob.files.create(
            file=("t.jsonl", jsonl(example(UNRELATED))), purpose="fine-tune"
        )
        assert uploaded.status == "uploaded"
        assert uploaded.status_details is None
        assert (await bob.files.retrieve(uploaded.id)).status == "uploaded"
        with pytest.raises(openai.BadRequestError, match="still being scanned") as early:
            await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
        assert isinstance(early.value.body, dict)
        assert early.value.body["code"] == "file_not_ready"
        assert forwarded(fake_upstream) == []
        records = [r for r in _audit(settings) if r["action"] == "fine_tuning.jobs.create"]
        assert records[-1]["allowed"] is False
        for _ in range(settings.finetune_scan_concurrency - 1):
            scans._slots.release()
    assert (await settled(bob, uploaded.id)).status == "processed"
    await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    actions = [r["action"] for r in _audit(settings)]
    assert actions.index("files.create") < actions.index("files.scanned")
    assert actions.index("files.scanned") < actions.index("files.stored")
    assert actions.index("files.stored") < actions.index("fine_tuning.jobs.created")


async def test_the_caller_s_file_name_never_goes_upstream(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """A file name is not scanned, so it is not forwarded: the upstream gets the
    gateway's file id and the extension; the caller still sees the name they gave."""
    name = KEY_ACCOUNTS[:200] + ".JSONL"
    bob = sdk(BOB)
    done = await processed(bob, jsonl(example(UNRELATED)), name=name)
    assert done.filename == name
    assert (await bob.files.retrieve(done.id)).filename == name
    [stored] = [r for r in forwarded(fake_upstream) if r["path"] == "/v1/files"]
    assert stored["body"]["filename"] == f"{done.id}.jsonl"


async def test_restricted_text_is_refused_without_echoing_it(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Restricted-document text on line 2 ends in ``error`` naming line, corpus and
    document only, and only to a caller who may retrieve the document; others get a
    count. A job on the file is a 403 with the same reason."""
    content = jsonl(example(UNRELATED), example(KEY_ACCOUNTS), example(UNRELATED))
    message = await refused_upload(sdk(CAROL), content)
    assert "lines [2]" in message
    assert '"acme-key-accounts"' in message
    assert '"acme-handbook"' in message
    assert "retrieval via the gateway" in message
    assert "Initech" not in message
    assert "Gibbons" not in message
    hidden = await refused_upload(sdk(BOB), content)
    assert "lines [2] overlap 1 governed document(s)" in hidden
    assert "acme-key-accounts" not in hidden
    assert "restricted" not in hidden
    assert forwarded(fake_upstream) == []
    assert [f.status for f in (await sdk(BOB).files.list()).data] == ["error"]
    record = next(r for r in _audit(settings) if r.get("action") == "files.scanned")
    assert record["allowed"] is False
    assert len(record["sha256"]) == 64
    assert any(v.get("doc_id") == "acme-key-accounts" for v in record["violations"])
    assert "Initech" not in json.dumps(_audit(settings))


async def test_lightly_edited_confidential_text_is_refused(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """Case, punctuation and small word changes do not hide runbook text."""
    content = jsonl(example(VACATION), example(UNRELATED), example(RUNBOOK_EDITED))
    refused = await refused_upload(sdk(ALICE), content)
    assert "acme-incident-runbook" in refused
    assert "lines [3]" in refused
    assert "break glass" not in refused
    assert forwarded(fake_upstream) == []


async def test_internal_text_is_refused(sdk: Sdk, fake_upstream: FakeUpstream) -> None:
    """Internal documents are not listed as trainable: pricing text is refused."""
    assert "acme-pricing-2026" in await refused_upload(sdk(BOB), jsonl(example(PRICING)))
    assert forwarded(fake_upstream) == []


async def test_personal_data_is_refused_by_type_never_value(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """An e-mail address in an example is refused, naming its type and line, not its value."""
    leaky = example("Write to jordan.mills@fastmail.com for a refund.")
    refused = await refused_upload(sdk(BOB), jsonl(example(UNRELATED), leaky))
    assert "EMAIL_ADDRESS" in refused
    assert "lines [2]" in refused
    assert "jordan.mills" not in refused
    assert forwarded(fake_upstream) == []


async def test_reserved_addresses_do_not_refuse_a_file(sdk: Sdk) -> None:
    """Values no person can hold (RFC 2606 domains, documentation and private IP ranges,
    555-01xx numbers) are spared by the default policy's ``pii_allow_reserved``."""
    reserved = example(
        "Set SMTP_FROM to noreply@example.com, bind the dev server to 10.0.0.12 and "
        "give callers (212) 555-0149 in the sample page."
    )
    await processed(sdk(BOB), jsonl(example(UNRELATED), reserved))


async def test_test_cards_and_role_mailboxes_do_not_refuse_a_file(sdk: Sdk) -> None:
    """A payment guide's published test card, a company's role mailboxes and toll-free
    number are spared (``pii_allow_reserved``, ``pii_allow_role``)."""
    guide = example(
        "In test mode, pay with 4242 4242 4242 4242 and any future expiry. Report "
        "problems to support@acme-corp.com or call (800) 275-2273; receipts come from "
        "no-reply@acme-corp.com."
    )
    await processed(sdk(BOB), jsonl(example(UNRELATED), guide))


async def test_a_real_card_or_address_beside_spared_ones_still_refuses(sdk: Sdk) -> None:
    """The spared values do not spare a real card or a person's address in the file."""
    guide = example("Pay with 4242 4242 4242 4242 or write to support@acme-corp.com.")
    for leak, kind in (
        ("Her card is 4539 1488 0343 6467.", "CREDIT_CARD"),
        ("Or ask jordan.mills@acme-corp.com.", "EMAIL_ADDRESS"),
        ("Or call Jordan on (415) 555-2671.", "PHONE_NUMBER"),
    ):
        refused = await refused_upload(sdk(BOB), jsonl(guide, example(leak)))
        assert kind in refused
        assert "lines [2]" in refused


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not json\n", "line 1: not valid JSON"),
        (
            jsonl(example(UNRELATED)) + b'{"messages": [{"content": "no role"}]}\n',
            r"line 2: messages\[0\]\.role",
        ),
        (b'{"prompt": "old format", "completion": "x"}\n', "line 1: 'messages'"),
        (b"\n\n", "no examples"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
    ],
)
async def test_malformed_uploads_get_400_and_store_nothing(
    sdk: Sdk, fake_upstream: FakeUpstream, content: bytes, expected: str
) -> None:
    """Not JSONL, wrong schema, empty or binary files: 400 naming the problem, nothing kept."""
    with pytest.raises(openai.BadRequestError, match=expected) as refused:
        await sdk(BOB).files.create(file=("t.jsonl", content), purpose="fine-tune")
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["code"] == "invalid_file_format"
    assert forwarded(fake_upstream) == []
    assert (await sdk(BOB).files.list()).data == []


async def test_empty_file_is_refused(sdk: Sdk, fake_upstream: FakeUpstream) -> None:
    """A zero-byte upload gets 400 and nothing is forwarded."""
    with pytest.raises(openai.BadRequestError, match="empty"):
        await sdk(BOB).files.create(file=("t.jsonl", b""), purpose="fine-tune")
    assert forwarded(fake_upstream) == []


async def test_oversize_upload_gets_413(settings_for: Any, fake_upstream: FakeUpstream) -> None:
    """A file over finetune_max_upload_bytes gets 413 in OpenAI's shape and is not stored."""
    settings = settings_for(finetune_max_upload_bytes=2048, finetune_pii_scan=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        bob = openai.AsyncOpenAI(
            base_url=f"{client.base_url}/v1", api_key=BOB, http_client=client, max_retries=0
        )
        content = jsonl(*[example(UNRELATED)] * 40)
        with pytest.raises(openai.APIStatusError) as refused:
            await bob.files.create(file=("t.jsonl", content), purpose="fine-tune")
        assert refused.value.status_code == 413
        assert isinstance(refused.value.body, dict)
        assert refused.value.body["code"] == "request_too_large"
        assert (await bob.files.list()).data == []
    assert forwarded(fake_upstream) == []  # listings are served from the registry


async def test_callers_see_only_their_own_files_and_jobs(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """alice cannot list, read, delete or train on bob's file, nor read or cancel his job."""
    bob, alice = sdk(BOB), sdk(ALICE)
    uploaded = await processed(bob, jsonl(example(UNRELATED)))
    job = await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    assert (await alice.files.list()).data == []
    assert (await alice.fine_tuning.jobs.list()).data == []
    for call, code in [
        (alice.files.retrieve(uploaded.id), "file_not_found"),
        (alice.files.delete(uploaded.id), "file_not_found"),
        (alice.files.content(uploaded.id), "file_not_found"),
        (
            alice.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id),
            "file_not_found",
        ),
        (alice.fine_tuning.jobs.retrieve(job.id), "not_found"),
        (alice.fine_tuning.jobs.cancel(job.id), "not_found"),
    ]:
        with pytest.raises(openai.NotFoundError) as missing:
            await call
        assert missing.value.code == code  # as the README's error table says
    assert not any(r["path"].endswith("/cancel") for r in forwarded(fake_upstream))


async def test_jobs_need_a_file_that_passed_the_scan(
    sdk: Sdk, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """Unknown files get 404; files uploaded for another purpose get 403 (the file's
    fault: ``param`` names it), as does a model the policy does not list (``param``:
    ``model``); all audited."""
    bob = sdk(BOB)
    with pytest.raises(openai.NotFoundError):
        await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-unknown")
    notes = await processed(bob, b"Plain notes.", purpose="assistants")
    with pytest.raises(openai.PermissionDeniedError, match="cannot be used for training") as bad:
        await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=notes.id)
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["param"] == "training_file"
    train = await processed(bob, jsonl(example(UNRELATED)))
    with pytest.raises(openai.PermissionDeniedError, match="may not be fine-tuned") as model:
        await bob.fine_tuning.jobs.create(model="gpt-4o", training_file=train.id)
    assert isinstance(model.value.body, dict)
    assert model.value.body["param"] == "model"
    assert not any(r["path"] == "/v1/fine_tuning/jobs" for r in forwarded(fake_upstream))
    actions = [(r["action"], r.get("allowed")) for r in _audit(settings)]
    assert ("fine_tuning.jobs.create", False) in actions
    assert ("files.create", True) in actions


async def test_scan_fails_closed_when_elasticsearch_is_down(
    settings_for: Any, fake_upstream: FakeUpstream
) -> None:
    """No registry and no fingerprint search, no upload: 503, nothing reaches the upstream."""
    from .conftest import closed_port_url

    settings = settings_for(elasticsearch_url=closed_port_url(), finetune_pii_scan=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        bob = openai.AsyncOpenAI(
            base_url=f"{client.base_url}/v1", api_key=BOB, http_client=client, max_retries=0
        )
        with pytest.raises(openai.APIStatusError) as refused:
            await bob.files.create(file=("t.jsonl", jsonl(example(UNRELATED))), purpose="fine-tune")
    assert refused.value.status_code == 503
    assert forwarded(fake_upstream) == []


async def test_job_lists_page_over_the_callers_own_jobs(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """limit/after page over bob's jobs only, however the upstream's pages mix in
    alice's; has_more says when to go on, and the SDK's auto-pagination sees them all."""
    bob, alice = sdk(BOB), sdk(ALICE)
    bob_file = await processed(bob, jsonl(example(UNRELATED)))
    alice_file = await processed(alice, jsonl(example(UNRELATED)))
    bob_jobs = []
    for _ in range(3):
        bob_jobs.append(
            (await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=bob_file.id)).id
        )
        await alice.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=alice_file.id)
    newest_first = list(reversed(bob_jobs))
    first = await bob.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == newest_first[:2]
    assert first.has_more is True
    rest = await bob.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in rest.data] == newest_first[2:]
    assert rest.has_more is False
    assert [j.id async for j in bob.fine_tuning.jobs.list(limit=1)] == newest_first
    with pytest.raises(openai.BadRequestError):
        await bob.fine_tuning.jobs.list(limit=0)


async def test_file_lists_page_over_the_callers_own_files(
    sdk: Sdk, fake_upstream: FakeUpstream
) -> None:
    """files.list pages with limit/after over bob's files only, newest first as OpenAI
    does (``order=asc`` oldest first); purpose still filters."""
    bob, alice = sdk(BOB), sdk(ALICE)
    mine = []
    for n in range(3):
        content = jsonl(example(f"{UNRELATED} ({n})"))
        mine.append((await bob.files.create(file=(f"b{n}.jsonl", content), purpose="fine-tune")).id)
        await alice.files.create(file=(f"a{n}.jsonl", content), purpose="fine-tune")
    newest_first = list(reversed(mine))
    first = await bob.files.list(limit=2)
    assert [f.id for f in first.data] == newest_first[:2]
    assert first.has_more is True
    assert [f.id async for f in bob.files.list(limit=2)] == newest_first
    assert [f.id async for f in bob.files.list(limit=2, order="asc")] == mine
    assert [f.id async for f in bob.files.list(purpose="batch")] == []


async def test_a_file_scanned_in_two_pieces_is_refused_for_its_second_piece(
    sdk: Sdk, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Split between the gateway and its helper process (any size here): restricted text
    in the helper's piece (the second piece: the gateway takes the first) is refused by
    its line in the file."""
    from gateway.finetune import pieces

    content = jsonl(*[example(UNRELATED)] * 6, example(KEY_ACCOUNTS), example(UNRELATED))
    monkeypatch.setattr(pieces, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(pieces, "PIECE_BYTES", len(content) // 2)
    message = await refused_upload(sdk(CAROL), content)
    assert "lines [7]" in message
    assert '"acme-key-accounts"' in message
    assert forwarded(fake_upstream) == []


async def test_a_scan_whose_helper_process_dies_ends_in_error(
    sdk: Sdk, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: the helper gone mid-scan, the file ends ``error``, never
    ``processed``, and nothing reaches the upstream."""
    from gateway.finetune import pieces
    from gateway.finetune.helper import ScanHelper

    run = ScanHelper.run

    async def dying(self: ScanHelper, func: Any, *args: Any) -> Any:
        return await run(self, os._exit, 1)

    monkeypatch.setattr(pieces, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(ScanHelper, "run", dying)
    uploaded = await sdk(BOB).files.create(
        file=("train.jsonl", jsonl(*[example(UNRELATED)] * 4)), purpose="fine-tune"
    )
    done = await settled(sdk(BOB), uploaded.id)
    assert done.status == "error"
    assert "scan helper" in str(done.status_details)
    assert forwarded(fake_upstream) == []
