"""Reviewing the local trail: search, show, exposure, and the ``gateway audit`` commands."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.audit import AuditLog, SearchFilters, exposure, search, show
from gateway.audit.cli import audit_app
from gateway.audit.segments import list_segments

KEY = "k" * 32


def chunk(doc_id: str, corpus: str = "handbook") -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "doc_version": "3",
        "chunk_id": f"{doc_id}#0",
        "corpus": corpus,
        "classification": "internal",
        "sha256_injected": "b" * 64,
        "sha256_original": "c" * 64,
        "redactions": [],
    }


def request(subject: str, chunks: list[dict[str, Any]], allowed: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": f"req-{subject}",
        "endpoint": "chat.completions",
        "subject": subject,
        "groups": [],
        "key_id": f"{subject}-key",
        "model": "gpt-4o-mini",
        "stream": False,
        "policy_decision_ids": [],
        "allowed": allowed,
    }
    if allowed:
        record["chunks"] = chunks
        record["upstream_body_sha256"] = "a" * 64
    else:
        record["denial_reasons"] = [f'subject "{subject}" may not use model "gpt-4o"']
    return record


@pytest.fixture
async def trail(tmp_path: Path) -> dict[str, Any]:
    """A small trail: alice sees the handbook, bob the pricing sheet, carol is denied."""
    ids: dict[str, Any] = {}
    async with AuditLog(tmp_path, hmac_key=KEY, checkpoint_every=3) as audit:
        ids["alice"] = await audit.append(
            "request", request("alice", [chunk("vacation"), chunk("expenses")])
        )
        ids["outcome"] = await audit.append(
            "outcome", {"request_audit_id": ids["alice"], "status": 200}
        )
        ids["bob"] = await audit.append("request", request("bob", [chunk("pricing", "sales")]))
        ids["carol"] = await audit.append("request", request("carol", [], allowed=False))
        ids["alice2"] = await audit.append("request", request("alice", [chunk("vacation")]))
    ids["dir"] = tmp_path
    return ids


def test_search_by_subject(trail: dict[str, Any]) -> None:
    """Searching by subject returns that subject's requests in log order."""
    found = search(trail["dir"], SearchFilters(subject="alice"))
    assert [r["audit_id"] for r in found] == [trail["alice"], trail["alice2"]]


def test_search_by_document_and_corpus(trail: dict[str, Any]) -> None:
    """A document or corpus filter keeps requests whose prompt held one of its chunks."""
    assert [r["audit_id"] for r in search(trail["dir"], SearchFilters(doc_id="expenses"))] == [
        trail["alice"]
    ]
    assert [r["audit_id"] for r in search(trail["dir"], SearchFilters(corpus="sales"))] == [
        trail["bob"]
    ]


def test_search_denied_only(trail: dict[str, Any]) -> None:
    """The denied filter keeps policy denials only."""
    found = search(trail["dir"], SearchFilters(denied=True))
    assert [r["audit_id"] for r in found] == [trail["carol"]]
    allowed = search(trail["dir"], SearchFilters(denied=False))
    assert trail["carol"] not in [r["audit_id"] for r in allowed]
    assert len(allowed) == 3


def test_search_by_time_range(trail: dict[str, Any]) -> None:
    """since is inclusive, until exclusive; naive times are UTC."""
    records = search(trail["dir"], SearchFilters(kind=None))
    bob_time = datetime.fromisoformat(next(r["time"] for r in records if r.get("subject") == "bob"))
    since_bob = search(trail["dir"], SearchFilters(since=bob_time))
    assert [r["subject"] for r in since_bob] == ["bob", "carol", "alice"]
    before_bob = search(trail["dir"], SearchFilters(until=bob_time.replace(tzinfo=None)))
    assert [r["subject"] for r in before_bob] == ["alice"]
    future = datetime.now(UTC) + timedelta(days=1)
    assert search(trail["dir"], SearchFilters(since=future)) == []


def test_search_limit_and_kind(trail: dict[str, Any]) -> None:
    """limit stops after that many matches; kind=None searches every kind."""
    assert len(search(trail["dir"], SearchFilters(limit=2))) == 2
    kinds = {r["kind"] for r in search(trail["dir"], SearchFilters(kind=None))}
    assert kinds == {"request", "outcome", "checkpoint"}


def test_show_links_outcomes(trail: dict[str, Any]) -> None:
    """show returns the record and its outcome records."""
    found = show(trail["dir"], trail["alice"])
    assert found is not None
    assert found["record"]["audit_id"] == trail["alice"]
    assert [o["audit_id"] for o in found["outcomes"]] == [trail["outcome"]]
    assert show(trail["dir"], "aud_missing") is None


def test_exposure_lists_every_prompt_holding_the_document(trail: dict[str, Any]) -> None:
    """exposure names when, who, with which model, and which chunks of the document."""
    found = exposure(trail["dir"], "vacation")
    assert [(e["subject"], e["audit_id"], e["model"]) for e in found] == [
        ("alice", trail["alice"], "gpt-4o-mini"),
        ("alice", trail["alice2"], "gpt-4o-mini"),
    ]
    assert found[0]["chunks"] == [
        {
            "chunk_id": "vacation#0",
            "doc_version": "3",
            "corpus": "handbook",
            "classification": "internal",
        }
    ]
    assert found[0]["time"]
    assert exposure(trail["dir"], "nothing") == []


def test_queries_skip_a_torn_last_line(trail: dict[str, Any]) -> None:
    """An incomplete last line is not a record for the queries either."""
    path = list_segments(trail["dir"])[-1]
    with path.open("a") as handle:
        handle.write('{"kind": "request", "subject": "alice"')
    assert len(search(trail["dir"], SearchFilters(subject="alice"))) == 2


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(audit_app, list(args), env=env)


def test_cli_verify_exit_codes(trail: dict[str, Any]) -> None:
    """verify exits 0 on an intact log and 1 naming the record once it is edited."""
    directory = str(trail["dir"])
    ok = invoke("verify", "--dir", directory, env={"GATEWAY_AUDIT_HMAC_KEY": KEY})
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    assert "signatures valid" in ok.output
    path = list_segments(trail["dir"])[0]
    path.write_text(path.read_text().replace('"subject":"bob"', '"subject":"eve"'))
    broken = invoke("verify", "--json", env={"GATEWAY_AUDIT_DIR": directory})
    assert broken.exit_code == 1
    report = json.loads(broken.output)
    assert report["ok"] is False
    error = next(p for p in report["problems"] if p["severity"] == "error")
    assert error["code"] == "hash_mismatch"
    assert error["location"]["audit_id"] == trail["bob"]


def test_cli_verify_reads_the_key_from_a_file(trail: dict[str, Any], tmp_path: Path) -> None:
    """--hmac-key-file supplies the key; a wrong key fails verification."""
    key_file = tmp_path / "key"
    key_file.write_text("w" * 32 + "\n")
    result = invoke("verify", "--dir", str(trail["dir"]), "--hmac-key-file", str(key_file))
    assert result.exit_code == 1
    assert "bad_signature" in result.output


def test_cli_show_and_missing_record(trail: dict[str, Any]) -> None:
    """show prints the record with its outcomes; an unknown id exits 1."""
    result = invoke("show", trail["alice"], "--dir", str(trail["dir"]))
    assert result.exit_code == 0
    assert json.loads(result.output)["outcomes"][0]["request_audit_id"] == trail["alice"]
    assert invoke("show", "aud_nope", "--dir", str(trail["dir"])).exit_code == 1


def test_cli_search_json_and_table(trail: dict[str, Any]) -> None:
    """search filters like the library and renders JSON or a table."""
    directory = str(trail["dir"])
    result = invoke("search", "--dir", directory, "--denied", "--json")
    assert result.exit_code == 0
    assert [r["audit_id"] for r in json.loads(result.output)] == [trail["carol"]]
    since = invoke("search", "--dir", directory, "--since", "2000-01-01", "--doc", "pricing")
    assert since.exit_code == 0
    assert "1 records" in since.output
    assert "bob" in since.output
    bad = invoke("search", "--dir", directory, "--since", "yesterday")
    assert bad.exit_code == 2


def test_cli_exposure(trail: dict[str, Any]) -> None:
    """exposure lists the prompts that held the document."""
    result = invoke("exposure", "vacation", "--dir", str(trail["dir"]), "--json")
    assert result.exit_code == 0
    assert [e["audit_id"] for e in json.loads(result.output)] == [trail["alice"], trail["alice2"]]
    table = invoke("exposure", "expenses", "--dir", str(trail["dir"]))
    assert "expenses: 1 prompts" in table.output


def test_cli_refuses_a_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist exits 2 with a message."""
    result = invoke("verify", "--dir", str(tmp_path / "nope"))
    assert result.exit_code == 2
