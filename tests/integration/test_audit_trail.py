"""The audit trail end to end: complete, reviewable by auditors, and outage-proof."""

import asyncio
import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.audit import verify
from gateway.settings import Settings

from ..conftest import ALICE, BOB, CAROL
from .conftest import INJECTED_DOCUMENT, FakeUpstream, audit_records, audit_records_soon

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
DOCUMENT = INJECTED_DOCUMENT


async def test_concurrent_requests_are_each_audited_exactly(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """N concurrent requests (streamed, plain, denied) leave exactly N request records whose
    chunk lists and hashes match what the upstream received."""
    questions = [
        "price discount seat",
        "vacation days policy",
        "vault tokens incident",
        "Globex champion contact",
    ]
    marker = uuid.uuid4().hex  # other suites may share the fake upstream: filter on it
    plan = []
    for n in range(24):
        key = (BOB, ALICE, CAROL)[n % 3]
        model = "gpt-4o" if n % 8 == 0 else "gpt-4o-mini"  # bob + gpt-4o is denied
        plan.append(
            (
                key,
                {
                    "model": model,
                    "stream": n % 2 == 1,
                    "messages": [{"role": "user", "content": f"{questions[n % 4]} #{n} {marker}"}],
                },
            )
        )
    responses = await asyncio.gather(
        *(
            demo_client.post(CHAT, json=body, headers={"Authorization": f"Bearer {key}"})
            for key, body in plan
        )
    )
    denied = sum(1 for r in responses if r.status_code == 403)
    assert denied >= 1
    assert all(r.status_code in (200, 403) for r in responses)
    records = audit_records(settings)
    assert len(records) == len(plan)
    allowed = [r for r in records if r["allowed"]]
    received = {
        hashlib.sha256(r["raw_body"].encode()).hexdigest(): r
        for r in fake_upstream.requests()
        if marker in r["raw_body"]
    }
    assert len(received) == len(allowed) == len(plan) - denied
    for record in allowed:
        upstream = received[record["upstream_body_sha256"]]
        first = upstream["body"]["messages"][0]
        injected = dict(DOCUMENT.findall(first["content"])) if first["role"] == "system" else {}
        assert [c["doc_id"] for c in record["chunks"]] == list(injected)
        for chunk in record["chunks"]:
            text = injected[chunk["doc_id"]]
            assert chunk["sha256_injected"] == hashlib.sha256(text.encode()).hexdigest()
    outcomes = await audit_records_soon(settings, "outcome", at_least=len(allowed))
    assert {o["request_audit_id"] for o in outcomes} == {r["audit_id"] for r in allowed}


async def test_auditor_api_is_policy_restricted(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """carol (security) can search, show, trace exposure and verify; bob cannot."""
    await demo_client.post(
        CHAT,
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Globex champion contact"}],
        },
        headers={"Authorization": f"Bearer {CAROL}"},
    )
    auditor = {"Authorization": f"Bearer {CAROL}"}
    assert (
        await demo_client.get("/admin/audit/records", headers={"Authorization": f"Bearer {BOB}"})
    ).status_code == 403
    found = (await demo_client.get("/admin/audit/records?subject=carol", headers=auditor)).json()
    audit_id = found["data"][0]["audit_id"]
    await audit_records_soon(settings, "outcome", at_least=1)
    shown = (await demo_client.get(f"/admin/audit/records/{audit_id}", headers=auditor)).json()
    assert shown["record"]["subject"] == "carol"
    assert len(shown["outcomes"]) == 1
    exposure = (
        await demo_client.get("/admin/audit/exposure/acme-key-accounts", headers=auditor)
    ).json()
    assert [e["audit_id"] for e in exposure["data"]] == [audit_id]
    report = (await demo_client.get("/admin/audit/verify", headers=auditor)).json()
    assert report["ok"] is True
    bad = await demo_client.get("/admin/audit/records?since=yesterday", headers=auditor)
    assert bad.status_code == 400


async def test_auditors_find_denied_file_and_job_calls_by_kind(
    demo_client: AsyncTestClient[Any],
) -> None:
    """A caller probing another's file ids: the denials are found with ``kind=finetune``
    (or ``any``), not among chat requests."""
    bob = {"Authorization": f"Bearer {BOB}"}
    probed = await demo_client.get("/v1/files/file-not-his", headers=bob)
    assert probed.status_code == 404
    auditor = {"Authorization": f"Bearer {CAROL}"}
    search = "/admin/audit/records?subject=bob&denied=true"

    async def found(kind: str) -> list[dict[str, Any]]:
        answer = await demo_client.get(f"{search}{kind}", headers=auditor)
        assert answer.status_code == 200
        return [r for r in answer.json()["data"] if r.get("file_id") == "file-not-his"]

    assert await found("") == []  # chat and other proxied requests only
    for kind in ("&kind=finetune", "&kind=any"):
        records = await found(kind)
        assert [(r["kind"], r["action"], r["allowed"]) for r in records] == [
            ("finetune", "files.retrieve", False)
        ]


class SwitchableProxy:
    """A TCP forwarder in front of the real Elasticsearch that the test can cut and restore:
    Elasticsearch 'stops' and 'returns' for the gateway without touching the shared server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.links):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.links.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_elasticsearch_outage_refuses_retrieval_and_backfills_audit(
    settings_for: Any, stack_env: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    """With Elasticsearch down, retrieval requests are refused (and audited locally); requests
    without retrieval are served and audited locally; when it returns, the index catches up."""
    es_port = int(stack_env["GATEWAY_ELASTICSEARCH_URL"].rsplit(":", 1)[1])
    proxy = SwitchableProxy(es_port)
    await proxy.start()
    settings = settings_for(
        elasticsearch_url=f"http://127.0.0.1:{proxy.port}", elasticsearch_timeout_s=1
    )
    auth = {"Authorization": f"Bearer {BOB}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "price"}]}
    async with AsyncTestClient(app=create_app(settings)) as client:
        await proxy.stop()  # Elasticsearch "stops"
        refused = await client.post(CHAT, json=body, headers=auth)
        served = await client.post(CHAT, json=body, headers={**auth, "x-gateway-retrieval": "off"})
        assert refused.status_code == 503
        assert refused.json()["error"]["message"].startswith("elasticsearch unavailable")
        assert served.status_code == 200
        local = audit_records(settings)
        assert [r["allowed"] for r in local] == [False, True]
        assert local[0]["refused"] == "dependency_unavailable"
        await proxy.start()  # Elasticsearch "returns" on the same port
        index = f"{settings.index_prefix}-audit"
        auth_es = (
            stack_env["GATEWAY_ELASTICSEARCH_USERNAME"],
            stack_env["GATEWAY_ELASTICSEARCH_PASSWORD"],
        )
        ids = {r["audit_id"] for r in local}
        shipped: set[str] = set()
        es = stack_env["GATEWAY_ELASTICSEARCH_URL"]
        async with httpx.AsyncClient(auth=auth_es) as http:
            for _ in range(100):  # the shipper backs off up to a few seconds
                await asyncio.sleep(0.3)
                await http.post(f"{es}/{index}/_refresh")
                response = await http.post(
                    f"{es}/{index}/_search", json={"size": 100, "query": {"match_all": {}}}
                )
                if response.status_code == 200:
                    hits = response.json()["hits"]["hits"]
                    shipped = {h["_source"]["audit_id"] for h in hits}
                if ids <= shipped:
                    break
        assert ids <= shipped
    await proxy.stop()
    assert verify(settings.audit_dir).ok


async def test_stored_prompts_are_encrypted_and_readable_with_the_key(
    settings_for: Any, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With prompt storage on, the record holds the exact prompt, encrypted; `gateway audit
    show --decrypt` opens it with the key and refuses a wrong one."""
    from cryptography.fernet import Fernet
    from typer.testing import CliRunner

    from gateway.cli import app

    key = Fernet.generate_key().decode()
    settings = settings_for(audit_store_prompts=True, audit_encryption_key=key)
    secret_question = "what is the secret merger codename"
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.post(
            CHAT,
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": secret_question}],
            },
            headers={"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"},
        )
    audit_id = response.headers["x-gateway-audit-id"]
    written = json.dumps(audit_records(settings))
    assert secret_question not in written
    (record,) = audit_records(settings)
    assert record["prompt_encrypted"]
    runner = CliRunner()
    monkeypatch.setenv("GATEWAY_AUDIT_ENCRYPTION_KEY", key)
    shown = runner.invoke(
        app, ["audit", "show", audit_id, "--dir", str(settings.audit_dir), "--decrypt"]
    )
    assert shown.exit_code == 0, shown.output
    (received,) = fake_upstream.requests()
    assert json.loads(shown.output)["prompt"] == received["body"]
    monkeypatch.setenv("GATEWAY_AUDIT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    wrong = runner.invoke(
        app, ["audit", "show", audit_id, "--dir", str(settings.audit_dir), "--decrypt"]
    )
    assert wrong.exit_code == 1
