"""The review page in a real headless browser: Debian's chromium driven by Playwright.

Screenshots of every page go to ``test-artifacts/review/`` (git-ignored) for a person to
look at. Skips with a reason when /usr/bin/chromium is missing (deploy/local/browser.sh
installs it), unless the stack is required, where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import ALICE, BOB, CAROL, REPO

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "review"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = "no /usr/bin/chromium (run deploy/local/browser.sh)"
        if os.environ.get("GATEWAY_REQUIRE_STACK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    yield context.new_page()
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def traffic(base_url: str) -> str:
    """Alice asks (chunks injected), bob is denied gpt-4o; returns alice's audit id."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "vacation days?"}]}
    alice = httpx.post(
        f"{base_url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {ALICE}"},
        timeout=120,
    )
    alice.raise_for_status()
    denied = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={**body, "model": "gpt-4o"},
        headers={"Authorization": f"Bearer {BOB}"},
        timeout=120,
    )
    assert denied.status_code == 403
    return str(alice.headers["x-gateway-audit-id"])


def test_an_auditor_reviews_the_trail_without_javascript(gateway: Any, page: Any) -> None:
    """Sign in with the keyboard, search, open a record, a document's exposure and the
    chain status: all readable with JavaScript off, labelled, with table headers."""
    audit_id = traffic(gateway.base_url)
    page.goto(f"{gateway.base_url}/admin/review/")
    shot(page, "01-sign-in")
    field = page.get_by_label("API key or token")
    assert field.get_attribute("type") == "password"
    field.fill(CAROL)
    field.press("Enter")
    page.wait_for_url(f"{gateway.base_url}/admin/review/")
    assert CAROL not in page.url
    assert page.get_by_text("Signed in as").is_visible()
    assert page.get_by_role("img", name="Requests per day").count() == 1
    assert page.get_by_role("columnheader", name="Requests").count() == 1
    shot(page, "02-overview")

    page.get_by_role("link", name="Requests").first.click()
    page.get_by_label("Subject").fill("alice")
    page.get_by_role("button", name="Search").click()
    assert "subject=alice" in page.url
    row_link = page.get_by_role("link", name=audit_id)
    assert row_link.count() == 1
    shot(page, "03-search")
    row_link.click()
    assert page.get_by_role("heading", name="Chain position").is_visible()
    assert page.get_by_role("columnheader", name="Classification").count() == 1
    shot(page, "04-record")

    page.get_by_role("link", name="acme-vacation-policy").first.click()
    assert (
        page.get_by_role("img", name="Prompts holding acme-vacation-policy, per day").count() == 1
    )
    assert page.get_by_role("link", name=audit_id).count() == 1
    shot(page, "05-exposure")

    page.get_by_role("link", name="Chain").click()
    assert page.get_by_role("status").inner_text().strip().endswith("intact.")
    shot(page, "06-chain")

    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "gw_review")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["expires"] == -1  # a browser-session cookie, never persisted


def test_keyboard_reaches_the_skip_link_and_sign_in_field(gateway: Any, page: Any) -> None:
    """The first Tab lands on the skip link; the form is reachable by keyboard."""
    page.goto(f"{gateway.base_url}/admin/review/")
    page.keyboard.press("Tab")
    focused = page.evaluate_handle("document.activeElement")
    assert focused.inner_text() == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate_handle("document.activeElement").get_attribute("id") == "credential"


def test_a_non_auditor_cannot_sign_in(gateway: Any, page: Any) -> None:
    """bob's key shows the policy's reason and no session is created."""
    page.goto(f"{gateway.base_url}/admin/review/")
    page.get_by_label("API key or token").fill(BOB)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Policy does not let you")
    assert not [c for c in page.context.cookies() if c["name"] == "gw_review"]
    shot(page, "07-refused")
