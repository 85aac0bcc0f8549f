"""/readyz means it, on the real stack: it fails while the audit log cannot append."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import BOB

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def _without_pii_workers(settings_for: Any, **overrides: Any) -> Settings:
    """No PII workers: their model load must not decide what /readyz says here."""
    settings: Settings = settings_for(
        message_pii_analysis=False, finetune_pii_scan=False, **overrides
    )
    return settings


async def test_readyz_shows_no_audit_path(settings_for: Any) -> None:
    """Without a key, /readyz says whether the audit log can append, not where it is."""
    settings = _without_pii_workers(settings_for)
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["audit"]["ok"] is True
    assert str(settings.audit_dir) not in response.text


async def test_a_failing_audit_disk_makes_readyz_fail(settings_for: Any) -> None:
    """Disk full: requests are refused and /readyz is a 503 naming the audit log."""
    settings = _without_pii_workers(settings_for)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    async with AsyncTestClient(app=create_app(settings)) as client:
        audit = client.app.state.services.audit
        audit.sync = full
        chat = await client.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {BOB}"})
        ready = await client.get("/readyz")
        audit.sync = os.fsync
        recovered = await client.get("/readyz")
    assert chat.status_code == 503
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["audit"]
    assert str(settings.audit_dir) not in ready.text
    assert recovered.status_code == 200


async def test_a_frozen_audit_disk_refuses_instead_of_hanging(settings_for: Any) -> None:
    """A sync that hangs: the request is a 503 within the write timeout; /readyz fails."""
    settings = _without_pii_workers(settings_for, audit_write_timeout_s=0.5)
    release = threading.Event()

    def frozen(fd: int) -> None:
        release.wait(20)

    async with AsyncTestClient(app=create_app(settings)) as client:
        audit = client.app.state.services.audit
        audit.sync = frozen
        started = time.monotonic()
        chat = await client.post(
            CHAT,
            json=BODY,
            headers={"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"},
        )
        elapsed = time.monotonic() - started
        ready = await client.get("/readyz")
        release.set()
        audit.sync = os.fsync
    assert chat.status_code == 503, chat.text
    assert chat.json()["error"]["code"] == "dependency_unavailable"
    assert elapsed < 5
    assert ready.status_code == 503
    assert "audit" in ready.json()["failing"]


async def test_a_success_that_cannot_be_recorded_is_not_served(settings: Settings) -> None:
    """GET /v1/models while the audit disk fails: a 503, not an unrecorded answer."""

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    async with AsyncTestClient(app=create_app(settings)) as client:
        audit = client.app.state.services.audit
        audit.sync = full
        refused = await client.get("/v1/models", headers={"Authorization": f"Bearer {BOB}"})
        audit.sync = os.fsync
        served = await client.get("/v1/models", headers={"Authorization": f"Bearer {BOB}"})
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "dependency_unavailable"
    assert "x-gateway-audit-id" not in refused.headers
    assert refused.headers["x-request-id"].startswith("req_")
    assert served.status_code == 200
    assert served.headers["x-gateway-audit-id"]
