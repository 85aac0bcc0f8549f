"""SIEM export: OCSF 1.9 API Activity events, CEF and syslog lines, incremental cursors."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.audit import AuditLog
from gateway.audit.cef import extension_escape, header_escape, to_cef, to_syslog
from gateway.audit.export import CursorError, ExportCursor, export
from gateway.audit.query import records
from gateway.cli import app

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
        "redactions": [{"entity_type": "PERSON", "operator": "replace", "count": 1}],
    }


def request(subject: str, chunks: list[dict[str, Any]], allowed: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": f"req-{subject}",
        "endpoint": "chat.completions",
        "subject": subject,
        "groups": ["engineering"],
        "key_id": f"{subject}-key",
        "client_address": "127.0.0.1",
        "user_agent": "OpenAI/Python",
        "model": "gpt-4o-mini",
        "allowed": allowed,
    }
    if allowed:
        record.update(chunks=chunks, policy_revision="rev1", prompt_encrypted="gAAAA-secret")
    else:
        record["denial_reasons"] = [f'subject "{subject}" may not use model "gpt-4o"']
    return record


@pytest.fixture
async def trail(tmp_path: Path) -> Path:
    """Alice reads two documents (with an outcome), bob is denied, alice again; checkpoints."""
    async with AuditLog(tmp_path, hmac_key=KEY, checkpoint_every=2) as audit:
        first = await audit.append("request", request("alice", [chunk("vacation"), chunk("exp")]))
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        await audit.append("outcome", {"request_audit_id": first, "status": 200, "usage": usage})
        await audit.append("request", request("bob", [], allowed=False))
        await audit.append("request", request("alice", [chunk("vacation")]))
    return tmp_path


def run(directory: Path, fmt: str = "ocsf", **kwargs: Any) -> tuple[list[str], Any]:
    out = io.StringIO()
    result = export(directory, out, fmt, **kwargs)  # type: ignore[arg-type]
    return out.getvalue().splitlines(), result


def test_ocsf_events_are_api_activity_with_the_profiles(trail: Path) -> None:
    """Every record becomes a 6003 event naming OCSF 1.9 and its three profiles."""
    lines, result = run(trail)
    events = [json.loads(line) for line in lines]
    assert len(events) == len(list(records(trail))) == result.exported
    for event in events:
        assert event["class_uid"] == 6003
        assert event["category_uid"] == 6
        assert event["type_uid"] == 6003 * 100 + event["activity_id"]
        assert event["metadata"]["version"] == "1.9.0"
        assert set(event["metadata"]["profiles"]) == {
            "ai_operation",
            "record_integrity",
            "security_control",
        }
        assert isinstance(event["time"], int)
        assert event["severity_id"] in {1, 2, 3}


def test_ocsf_record_integrity_follows_the_hash_chain(trail: Path) -> None:
    """Each attestation's fingerprint is the record hash; prev_event names its predecessor."""
    events = [json.loads(line) for line in run(trail)[0]]
    source = list(records(trail))
    chains = {e["attestation_list"][0]["chain_uid"] for e in events}
    assert chains == {f"gateway-audit:{source[0]['hash']}"}
    assert "prev_event" not in events[0]["attestation_list"][0]
    for before, event, record in zip(events, events[1:], source[1:], strict=False):
        attestation = event["attestation_list"][0]
        assert attestation["fingerprint"] == {
            "algorithm_id": 3,
            "algorithm": "SHA-256",
            "value": record["hash"],
        }
        previous = attestation["prev_event"]
        assert (
            previous["fingerprint"]["value"]
            == before["attestation_list"][0]["fingerprint"]["value"]
        )
        assert previous["uid"] == before["metadata"]["uid"]
        assert previous["type_uid"] == before["type_uid"]


def test_ocsf_request_maps_actor_chunks_model_and_verdict(trail: Path) -> None:
    """A chat request carries its subject, every chunk (no text), the model and 'Allowed'."""
    event = json.loads(run(trail)[0][0])
    assert event["activity_name"] == "Create"
    assert event["actor"]["user"]["name"] == "alice"
    assert event["actor"]["user"]["credential_uid"] == "alice-key"
    assert event["api"]["operation"] == "chat.completions"
    assert event["src_endpoint"] == {"ip": "127.0.0.1"}
    assert event["ai_model"]["name"] == "gpt-4o-mini"
    assert (event["action_id"], event["disposition_id"], event["status_id"]) == (1, 1, 1)
    assert event["policy"]["uid"] == "rev1"
    assert [r["name"] for r in event["resources"]] == ["vacation", "exp"]
    resource = event["resources"][0]
    assert resource["group"] == {"name": "handbook"}
    assert resource["version"] == "3"
    assert resource["data"]["sha256_injected"] == "b" * 64
    assert resource["data"]["redactions"][0]["entity_type"] == "PERSON"
    assert "prompt_encrypted" not in json.dumps(event)
    assert "gAAAA-secret" not in json.dumps(event)


def test_ocsf_denial_and_outcome(trail: Path) -> None:
    """A denial is Denied/Blocked/Failure with the reasons; an outcome carries token usage."""
    events = [json.loads(line) for line in run(trail)[0]]
    denied = next(e for e in events if e.get("action") == "Denied")
    assert (denied["disposition_id"], denied["status_id"], denied["severity_id"]) == (2, 2, 2)
    assert "may not use model" in denied["status_detail"]
    outcome = next(e for e in events if e["metadata"]["event_code"] == "outcome")
    assert outcome["message_context"]["total_tokens"] == 15
    assert outcome["http_response"] == {"code": 200}
    assert outcome["metadata"]["correlation_uid"] == events[0]["metadata"]["uid"]
    checkpoint = next(e for e in events if e["metadata"]["event_code"] == "checkpoint")
    assert checkpoint["activity_id"] == 99


def test_incremental_export_continues_where_it_stopped(trail: Path) -> None:
    """Exports in batches from the cursor add up to one full export, with no repeats."""
    full, _ = run(trail)
    pieces: list[str] = []
    cursor = None
    while True:
        lines, result = run(trail, after=cursor, limit=2)
        if not lines:
            break
        pieces.extend(lines)
        cursor = result.cursor
    assert pieces == full


def test_after_an_audit_id(trail: Path) -> None:
    """--after AUDIT_ID exports only the records that follow that one."""
    source = list(records(trail))
    lines, _ = run(trail, "cef", after=ExportCursor(source[2]["audit_id"]))
    assert len(lines) == len(source) - 3
    assert source[3]["audit_id"] in lines[0]
    with pytest.raises(CursorError):
        run(trail, after=ExportCursor("aud_unknown"))


def test_cursor_on_a_rewritten_or_truncated_log_is_an_error(trail: Path) -> None:
    """A cursor whose record changed or vanished stops the export instead of skipping."""
    source = list(records(trail))
    forged = ExportCursor(source[1]["audit_id"], source[1]["seq"], "f" * 64)
    with pytest.raises(CursorError, match="rewritten"):
        run(trail, after=forged)
    beyond = ExportCursor("aud_x", len(source) + 5, "e" * 64)
    with pytest.raises(CursorError, match="truncated"):
        run(trail, after=beyond)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A strict CEF reader: header split on unescaped pipes, extension on key=."""
    parts = re.split(r"(?<!\\)\|", line, maxsplit=7)
    assert len(parts) == 8, line
    extension = parts[7]
    pairs: dict[str, str] = {}
    for match in re.finditer(r"(\w+)=((?:\\.|[^\\=])*?)(?=\s\w+=|$)", extension):
        value = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), match[2])
        pairs[match[1]] = value
    return parts[:7], pairs


def test_cef_lines(trail: Path) -> None:
    """CEF names the subject, verdict, model, documents and the chain hashes."""
    lines, _ = run(trail, "cef")
    header, fields = parse_cef(lines[0])
    assert header[:3] == ["CEF:0", "governance-gateway", "governance-gateway"]
    assert header[4] == "request:chat.completions"
    assert fields["suser"] == "alice"
    assert fields["act"] == "allowed"
    assert fields["cs1"] == "gpt-4o-mini"
    assert fields["cs3"] == "exp,vacation"
    assert fields["cs5"] == next(records(trail))["hash"]
    denied = next(parse_cef(line) for line in lines if "act=denied" in line)
    assert denied[0][6] == "4"
    assert "may not use model" in denied[1]["reason"]


_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)


@given(subject=_text, reason=_text, model=_text)
def test_cef_escaping_round_trips_any_value(subject: str, reason: str, model: str) -> None:
    """Whatever a field holds, it stays one field of one CEF line and reads back the same."""
    record = {
        "audit_id": "aud_1",
        "kind": "request",
        "endpoint": "chat.completions",
        "seq": 1,
        "time": "2026-12-01T10:00:00+00:00",
        "subject": subject,
        "model": model,
        "allowed": False,
        "denial_reasons": [reason],
    }
    line = to_cef(record)
    assert "\n" not in line
    assert "\r" not in line
    header, fields = parse_cef(line)
    assert len(header) == 7
    # CEF writes a line break as \n, so CRLF reads back as LF (by the format's design).
    subject, model = (value.replace("\r\n", "\n") for value in (subject, model))
    assert fields.get("suser", "") in {subject, subject.strip()}
    assert fields.get("cs1", "") in {model, model.strip()}


@given(_text)
def test_escapes_never_leave_a_bare_separator(value: str) -> None:
    """Escaped header values hold no bare pipe; extension values no bare equals sign."""
    assert re.search(r"(?<!\\)(\\\\)*\|", header_escape(value).replace("\\\\", "")) is None
    assert re.search(r"(?<!\\)=", extension_escape(value).replace("\\\\", "")) is None


def test_syslog_frames_cef_as_rfc5424(trail: Path) -> None:
    """syslog lines are RFC 5424 (facility log audit) with the CEF line as the message."""
    first = next(records(trail))
    line = to_syslog(first, "gw host")
    assert line.startswith(f"<110>1 {first['time']} gwhost gateway - request - CEF:0|")
    lines, _ = run(trail, "syslog", hostname="h1")
    assert any(line.startswith("<108>1 ") for line in lines)  # the denial: warning


def test_cli_export_moves_the_cursor_file(trail: Path, tmp_path_factory: Any) -> None:
    """The command appends to --output, moves --cursor, and then finds nothing new."""
    work = tmp_path_factory.mktemp("siem")
    out, cursor = work / "events.jsonl", work / "cursor.json"
    args = ["audit", "export", "--dir", str(trail), "--cursor", str(cursor), "-o", str(out)]
    runner = CliRunner()
    first = runner.invoke(app, [*args, "--limit", "3"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    lines = out.read_text().splitlines()
    assert [json.loads(line)["metadata"]["uid"] for line in lines] == [
        r["audit_id"] for r in records(trail)
    ]
    assert json.loads(cursor.read_text())["seq"] == len(lines)
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert len(out.read_text().splitlines()) == len(lines)


def test_cli_refuses_a_cursor_that_no_longer_matches(trail: Path, tmp_path_factory: Any) -> None:
    """A cursor naming a rewritten record exits 1 with a message, writing nothing."""
    cursor = tmp_path_factory.mktemp("siem") / "cursor.json"
    ExportCursor("aud_gone", 2, "0" * 64).save(cursor)
    result = CliRunner().invoke(
        app, ["audit", "export", "--dir", str(trail), "--cursor", str(cursor)]
    )
    assert result.exit_code == 1
    assert "rewritten" in result.output


@pytest.mark.parametrize(
    ("action", "activity"),
    [
        ("files.create", 1),
        ("files.list", 2),
        ("files.content", 2),
        ("fine_tuning.jobs.cancel", 3),
        ("files.delete", 4),
        ("fine_tuning.jobs.created", 1),
    ],
)
def test_fine_tuning_actions_map_to_crud_activities(action: str, activity: int) -> None:
    """Fine-tuning records name their action; it becomes the API operation and CRUD verb."""
    from gateway.audit.ocsf import to_ocsf

    record = {"audit_id": "a", "kind": "finetune", "seq": 2, "hash": "h", "prev_hash": "p"}
    record.update(time="2026-12-01T00:00:00+00:00", subject="dana", action=action, allowed=True)
    event = to_ocsf(record, chain_uid="c", prev_uid="z")
    assert event["activity_id"] == activity
    assert event["api"]["operation"] == action
    assert f"finetune:{action}" in to_cef(record)
