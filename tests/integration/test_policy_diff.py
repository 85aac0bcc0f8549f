"""`gateway policy diff` on the real Elasticsearch and a private OPA per policy version."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.elastic import ChunkIndex
from gateway.settings import Settings

from ..fixtures.policy_diff.support import (
    copy_policies,
    demo_chunks,
    narrow_public,
    open_model_and_auditors,
    widen_clearance,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    """The synthetic chunks in this test's own index (the CLI runs its own event loop, so
    these tests are synchronous)."""

    async def load() -> None:
        async with ChunkIndex.from_settings(settings) as index:
            await index.ensure_index()
            await index.index_chunks(demo_chunks())

    asyncio.run(load())
    return settings


def diff(
    settings: Settings, stack_env: dict[str, str], *args: str
) -> tuple[int, str, dict[str, Any] | None]:
    env = {
        "GATEWAY_INDEX_PREFIX": settings.index_prefix,
        "GATEWAY_AUDIT_DIR": str(settings.audit_dir),
        "STACK_OPA_BIN": stack_env["STACK_OPA_BIN"],
    }
    result = CliRunner().invoke(app, ["policy", "diff", *args], env=env)
    report = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
    return result.exit_code, result.output, report


def by_subject(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["subject"]: change for change in report["changes"]}


def test_widening_names_who_gains_which_documents(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Widening internal clearance: bob gains exactly 'margins'; exit code 1."""
    new = copy_policies(tmp_path / "new")
    widen_clearance(new)
    code, output, report = diff(
        indexed, stack_env, "--from", "policies", "--to", str(new), "--json"
    )
    assert code == 1, output
    assert report is not None
    assert report["widens"] is True
    changes = by_subject(report)
    assert set(changes) == {"bob"}
    gained = changes["bob"]["gained"]
    assert (gained["documents"], gained["chunks"]) == (1, 1)
    assert gained["corpora"] == {"sales": 1}
    assert gained["details"] == [
        {"doc_id": "margins", "corpus": "sales", "classification": "confidential", "chunks": 1}
    ]
    assert changes["bob"]["lost"]["chunks"] == 0
    assert report["summary"]["principals_gaining"] == 1
    assert report["indexed_chunks"] == len(demo_chunks())


def test_model_and_auditor_changes_widen(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Opening gpt-4o to sales and making engineering auditors are reported as widening."""
    new = copy_policies(tmp_path / "new")
    open_model_and_auditors(new)
    code, output, report = diff(
        indexed, stack_env, "--from", "policies", "--to", str(new), "--json"
    )
    assert code == 1, output
    assert report is not None
    changes = by_subject(report)
    assert changes["bob"]["models_gained"] == ["gpt-4o"]
    assert changes["alice"]["auditor"] == "gained"
    assert "carol" not in changes
    assert report["summary"]["documents_gained"] == 0


def test_narrowing_reports_losses_and_exits_zero(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Removing the public rule loses the handbook for everyone, widens nothing: exit 0."""
    new = copy_policies(tmp_path / "new")
    narrow_public(new)
    code, output, _ = diff(indexed, stack_env, "--from", "policies", "--to", str(new))
    assert code == 0, output
    assert "does not widen access" in output
    assert "losing documents:  3 principals" in output
    assert "handbook  [handbook, public, 1 chunks]" in output
    # The reverse direction widens.
    code, output, _ = diff(indexed, stack_env, "--from", str(new), "--to", "policies")
    assert code == 1, output


def test_unchanged_policies_report_nothing(indexed: Settings, stack_env: dict[str, str]) -> None:
    """The same version on both sides: no changes, exit 0."""
    code, output, report = diff(
        indexed, stack_env, "--from", "policies", "--to", "policies", "--json"
    )
    assert code == 0, output
    assert report is not None
    assert report["changes"] == []


def test_git_ref_and_opa_processes_are_gone_afterwards(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """--from a git ref diffs the committed policies; no OPA is left running afterwards."""
    repo = tmp_path / "policy-repo"
    repo.mkdir()
    copy_policies(repo / "policies")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "policies"], check=True)
    widen_clearance(repo / "policies")
    code, output, report = diff(
        indexed,
        stack_env,
        "--repo",
        str(repo),
        "--from",
        "HEAD",
        "--to",
        str(repo / "policies"),
        "--json",
    )
    assert code == 1, output
    assert report is not None
    assert set(by_subject(report)) == {"bob"}
    assert _opa_processes() == set()


def test_a_version_opa_cannot_load_is_an_error(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A broken policy file: exit 2 with OPA's message, not a silent empty diff."""
    new = copy_policies(tmp_path / "new")
    (new / "retrieval.rego").write_text("package gateway.retrieval\nallow if {\n")
    code, output, _ = diff(indexed, stack_env, "--from", "policies", "--to", str(new))
    assert code == 2
    assert "OPA cannot load" in output
    code, output, _ = diff(indexed, stack_env, "--from", "no-such-ref", "--to", str(new))
    assert code == 2


def test_principals_from_claims_and_audit_log(
    indexed: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """JWT claim sets and subjects seen in the audit log are evaluated as principals."""
    from gateway.audit import AuditLog

    new = copy_policies(tmp_path / "new")
    widen_clearance(new)
    claims = tmp_path / "claims.json"
    claims.write_text(
        json.dumps(
            [
                {"sub": "dave", "groups": ["sales"], "tenant": "acme", "clearance": "internal"},
                {"sub": "erin", "groups": ["sales"], "tenant": "globex", "clearance": "internal"},
            ]
        )
    )
    code, _, report = diff(
        indexed, stack_env, "--from", "policies", "--to", str(new), "--json",
        "--principals", "claims", "--claims-file", str(claims),
    )  # fmt: skip
    assert code == 1
    assert report is not None
    assert set(by_subject(report)) == {"dave"}

    async def requests() -> None:
        async with AuditLog(indexed.audit_dir) as audit:
            for subject in ("bob", "zed"):
                await audit.append("request", {"subject": subject, "groups": ["sales"]})

    asyncio.run(requests())
    code, _, report = diff(
        indexed, stack_env, "--from", "policies", "--to", str(new), "--json",
        "--principals", "audit", "--since", "2000-01-01",
    )  # fmt: skip
    assert report is not None
    assert report["summary"]["principals"] == 2
    assert set(by_subject(report)) == {"bob"}  # zed has no attributes: no tenant, no access
    assert any("zed" in note for note in report["notes"])


def _opa_processes() -> set[int]:
    """OPA processes this test process started (children of ours) that still run."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and cmdline[0].endswith(b"opa"):
            found.add(int(entry.name))
    return found


def test_principals_with_the_same_filters_share_one_exact_count(indexed: Settings) -> None:
    """Equal (old, new) filter pairs get the counts each would get alone; unchanged: none."""
    from gateway.policy_diff.compare import ChangeCounter

    sales = {"terms": {"allowed_groups": ["sales"]}}
    confidential = {"term": {"classification": "confidential"}}

    async def count(pairs: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        async with ChunkIndex.from_settings(indexed) as index:
            return await ChangeCounter(index.client, index.name).changes(pairs)

    shared = asyncio.run(count([(sales, confidential), (sales, confidential), (sales, sales)]))
    alone = asyncio.run(count([(sales, confidential)]))
    reverse = asyncio.run(count([(confidential, sales)]))
    assert shared[0] == shared[1] == alone[0]
    gained, lost = alone[0]
    assert (gained.chunks, lost.chunks) == (1, 2)  # design gained; both pricing chunks lost
    assert [d["doc_id"] for d in gained.details] == ["design"]
    assert reverse[0] == (lost, gained)
    assert (shared[2][0].chunks, shared[2][1].chunks) == (0, 0)
