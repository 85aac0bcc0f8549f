"""The audit writer: chain, durability, group commit, rotation, checkpoints, recovery."""

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

import gateway.audit
from gateway.audit import GENESIS_HASH, AuditLog, record_hash, verify
from gateway.audit.checkpoint import HEAD_NAME, signature_valid
from gateway.audit.guard import REDACTED, might_hold_secrets, scrub_secrets
from gateway.audit.segments import list_segments
from gateway.errors import DependencyUnavailable
from gateway.hashing import canonical_json
from tests.conftest import REPO

KEY = "k" * 32


def _records(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in list_segments(directory)
        for line in path.read_text().splitlines()
    ]


def _of_kind(directory: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in _records(directory) if r["kind"] == kind]


async def test_records_are_hash_chained(tmp_path: Path) -> None:
    """Each record hashes its body together with the previous record's hash."""
    async with AuditLog(tmp_path) as audit:
        first = await audit.append("request", {"subject": "a"})
        await audit.append("outcome", {"request_audit_id": first})
    records = _records(tmp_path)
    assert [r["kind"] for r in records] == ["request", "outcome", "checkpoint"]
    assert records[0]["prev_hash"] == GENESIS_HASH
    for before, record in itertools.pairwise(records):
        assert record["prev_hash"] == before["hash"]
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        assert record["hash"] == record_hash(record["prev_hash"], body)


async def test_chain_continues_after_reopen(tmp_path: Path) -> None:
    """A restarted gateway continues the chain and the sequence where it stopped."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    records = _records(tmp_path)
    assert [(r["seq"], r["kind"]) for r in records] == [
        (1, "request"),
        (2, "checkpoint"),
        (3, "request"),
        (4, "checkpoint"),
    ]
    assert records[2]["prev_hash"] == records[1]["hash"]
    assert verify(tmp_path).ok


async def test_append_after_close_fails_closed(tmp_path: Path) -> None:
    """Writing to a closed log raises DependencyUnavailable instead of losing the record."""
    audit = AuditLog(tmp_path)
    async with audit:
        pass
    with pytest.raises(DependencyUnavailable, match="audit"):
        await audit.append("request", {})


async def test_unwritable_directory_fails_at_open(tmp_path: Path) -> None:
    """An audit directory that is a file cannot be opened."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DependencyUnavailable, match="audit"):
        async with AuditLog(blocker / "audit"):
            pass


async def test_closing_an_unchanged_log_writes_nothing(tmp_path: Path) -> None:
    """Opening and closing without appends adds no checkpoint."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    before = _records(tmp_path)
    async with AuditLog(tmp_path):
        pass
    assert _records(tmp_path) == before


async def test_segments_rotate_and_the_chain_crosses_them(tmp_path: Path) -> None:
    """Past segment_max_bytes a rotation checkpoint names the next segment, which continues."""
    async with AuditLog(tmp_path, segment_max_bytes=4096) as audit:
        for n in range(60):
            await audit.append("request", {"subject": "alice", "n": n, "pad": "x" * 100})
        current = audit.path
    segments = list_segments(tmp_path)
    assert len(segments) > 2
    assert current == segments[-1]
    for path, following in itertools.pairwise(segments):
        last = json.loads(path.read_text().splitlines()[-1])
        first = json.loads(following.read_text().splitlines()[0])
        assert (last["kind"], last["reason"], last["next_segment"]) == (
            "checkpoint",
            "rotation",
            following.name,
        )
        assert first["prev_hash"] == last["hash"]
        assert first["seq"] == last["seq"] + 1
    assert all(path.stat().st_size < 4096 + 1024 for path in segments)
    assert verify(tmp_path).ok


async def test_rotation_continues_after_reopen(tmp_path: Path) -> None:
    """A log reopened after rotating keeps writing the newest segment."""
    async with AuditLog(tmp_path, segment_max_bytes=4096) as audit:
        for n in range(40):
            await audit.append("request", {"n": n, "pad": "x" * 100})
    count = len(list_segments(tmp_path))
    async with AuditLog(tmp_path, segment_max_bytes=4096) as audit:
        await audit.append("request", {"after": "reopen"})
    assert len(list_segments(tmp_path)) in {count, count + 1}
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert _of_kind(tmp_path, "request")[-1]["after"] == "reopen"


async def test_concurrent_appends_are_group_committed_and_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 concurrent appends: each is synced before it returns, seq strictly increases,
    the chain holds, and far fewer than 200 syncs were needed."""
    synced_sizes: list[int] = []
    real_fdatasync = os.fdatasync

    def tracking_fdatasync(fd: int) -> None:
        real_fdatasync(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fdatasync", tracking_fdatasync)

    async with AuditLog(tmp_path) as audit:

        async def one(n: int) -> str:
            audit_id = await audit.append("request", {"subject": f"user{n}", "n": n})
            durable = _durable_prefix(audit.path, max(synced_sizes))
            assert audit_id.encode() in durable, "append returned before its record was synced"
            return audit_id

        ids = await asyncio.gather(*(one(n) for n in range(200)))
        commits = audit.commits

    requests = _of_kind(tmp_path, "request")
    assert sorted(r["audit_id"] for r in requests) == sorted(ids)
    seqs = [r["seq"] for r in _records(tmp_path)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert verify(tmp_path).ok
    assert commits < 20


def _durable_prefix(path: Path, size: int) -> bytes:
    return path.read_bytes()[:size]


async def test_sequential_appends_each_commit(tmp_path: Path) -> None:
    """Without concurrency there is nothing to batch: one commit per append."""
    async with AuditLog(tmp_path) as audit:
        for _ in range(5):
            await audit.append("request", {})
        assert audit.commits == 5


async def test_torn_last_line_is_truncated_on_open(tmp_path: Path) -> None:
    """A line cut short by a crash is dropped with a warning; the chain continues before it."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {"n": 1})
        await audit.append("request", {"n": 2})
        path = audit.path
    intact = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"audit_id":"aud_half","kind":"requ')
    with capture_logs() as events:
        async with AuditLog(tmp_path) as audit:
            await audit.append("request", {"n": 3})
    torn = [e for e in events if e["event"] == "audit_torn_line_truncated"]
    assert torn
    assert torn[0]["log_level"] == "warning"
    assert torn[0]["bytes"] == len(b'{"audit_id":"aud_half","kind":"requ')
    assert path.read_bytes().startswith(intact)
    assert b"aud_half" not in path.read_bytes()
    assert verify(tmp_path).ok


async def test_failed_write_is_refused_and_the_log_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails is undone and reported; the next append continues the durable chain."""
    real_fdatasync = os.fdatasync
    failures = [OSError(28, "No space left on device")]

    def failing_once(fd: int) -> None:
        if failures:
            raise failures.pop()
        real_fdatasync(fd)

    async with AuditLog(tmp_path) as audit:
        kept = await audit.append("request", {"n": 1})
        monkeypatch.setattr(os, "fdatasync", failing_once)
        with capture_logs() as events, pytest.raises(DependencyUnavailable, match="audit"):
            await audit.append("request", {"n": 2})
        assert any(e["event"] == "audit_write_failed" for e in events)
        assert audit.writable()
        after = await audit.append("request", {"n": 3})
    requests = _of_kind(tmp_path, "request")
    assert [r["audit_id"] for r in requests] == [kept, after]
    assert [r["seq"] for r in requests] == [1, 2]
    assert verify(tmp_path).ok


async def test_failed_rotation_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failing during rotation removes the new segment; the next append rotates anew."""
    async with AuditLog(tmp_path, segment_max_bytes=4096) as audit:
        while len(list_segments(tmp_path)) == 1 and audit.path.stat().st_size < 4096:
            await audit.append("request", {"pad": "x" * 200})
        real_fdatasync = os.fdatasync
        failures = [OSError(5, "I/O error")]

        def failing_once(fd: int) -> None:
            if failures:
                raise failures.pop()
            real_fdatasync(fd)

        monkeypatch.setattr(os, "fdatasync", failing_once)
        with pytest.raises(DependencyUnavailable):
            await audit.append("request", {"pad": "y"})
        assert len(list_segments(tmp_path)) == 1
        await audit.append("request", {"pad": "z"})
    assert len(list_segments(tmp_path)) == 2
    assert verify(tmp_path).ok


async def test_checkpoints_every_n_records_and_at_close(tmp_path: Path) -> None:
    """A signed checkpoint follows every checkpoint_every records and the close."""
    async with AuditLog(tmp_path, hmac_key=KEY, checkpoint_every=5) as audit:
        for n in range(12):
            await audit.append("request", {"n": n})
    records = _records(tmp_path)
    checkpoints = [r for r in records if r["kind"] == "checkpoint"]
    assert [(c["seq"], c["reason"]) for c in checkpoints] == [
        (6, "interval"),
        (12, "interval"),
        (15, "close"),
    ]
    by_seq = {r["seq"]: r for r in records}
    for checkpoint in checkpoints:
        covered = by_seq[checkpoint["covers_seq"]]
        assert checkpoint["covers_seq"] == checkpoint["seq"] - 1
        assert checkpoint["covers_hash"] == covered["hash"]
        assert signature_valid(KEY.encode(), checkpoint)
        assert not signature_valid(b"another key of at least 32 chars", checkpoint)
    head = json.loads((tmp_path / HEAD_NAME).read_text())["checkpoint"]
    assert head == checkpoints[-1]


async def test_checkpoints_are_unsigned_without_a_key(tmp_path: Path) -> None:
    """Without a key checkpoints still seal the chain, with no signature."""
    async with AuditLog(tmp_path, checkpoint_every=2) as audit:
        for n in range(4):
            await audit.append("request", {"n": n})
    checkpoints = _of_kind(tmp_path, "checkpoint")
    assert checkpoints
    assert all(c["signature"] is None and c["signature_alg"] is None for c in checkpoints)
    report = verify(tmp_path)
    assert report.ok
    assert report.signatures == "unsigned"


async def test_open_refuses_a_log_shorter_than_its_head(tmp_path: Path) -> None:
    """A log that ends before the checkpoint its head file names is not written onto."""
    async with AuditLog(tmp_path, checkpoint_every=2) as audit:
        for n in range(5):
            await audit.append("request", {"n": n})
    path = list_segments(tmp_path)[0]
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    with pytest.raises(DependencyUnavailable, match="head file"):
        async with AuditLog(tmp_path):
            pass


async def test_open_refuses_when_the_announced_segment_is_gone(tmp_path: Path) -> None:
    """A rotation checkpoint naming a deleted segment stops the writer from continuing."""
    async with AuditLog(tmp_path, segment_max_bytes=4096) as audit:
        for n in range(40):
            await audit.append("request", {"n": n, "pad": "x" * 100})
    list_segments(tmp_path)[-1].unlink()
    (tmp_path / HEAD_NAME).unlink()
    with pytest.raises(DependencyUnavailable, match="missing"):
        async with AuditLog(tmp_path, segment_max_bytes=4096):
            pass


@pytest.mark.parametrize(
    "fields",
    [
        {"authorization": "Bearer abc"},
        {"Authorization": "x"},
        {"api_key": "x"},
        {"headers": {"x-api-key": "x"}},
        {"apiKey": "x"},
        {"password": "x"},
        {"access_token": "x"},
        {"token": "x"},
        {"idToken": "x"},
        {"jwt": "x"},
        {"chunks": [{"doc_id": "d", "meta": {"client_secret": "x"}}]},
        {"user_agent": "curl Bearer sk-0123456789abcdef"},
        {"note": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"},
    ],
)
async def test_records_naming_credentials_are_scrubbed(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    """A credential-named key or a bearer/JWT value is written scrubbed, and named as such."""
    async with AuditLog(tmp_path) as audit:
        audit_id = await audit.append("request", fields)
    text = audit.path.read_text().splitlines()[0]
    record = json.loads(text)
    assert record["audit_id"] == audit_id
    assert record["scrubbed_fields"]
    assert REDACTED in text
    for secret in ("Bearer abc", "sk-0123456789abcdef", "eyJzdWIiOiJib2IifQ"):
        assert secret not in text


async def test_a_scrubbed_record_still_verifies(tmp_path: Path) -> None:
    """The chain covers the scrubbed record: verify passes and no credential is stored."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {"user_agent": "Bearer abcdefghijklmnop", "model": "m"})
        await audit.append("request", {"model": "eyJa.eyJb.c"})
    assert verify(tmp_path, None).ok
    assert "abcdefghijklmnop" not in audit.path.read_text()


async def test_token_counters_are_not_credentials(tmp_path: Path) -> None:
    """Usage counters such as total_tokens pass the credential check."""
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    async with AuditLog(tmp_path) as audit:
        await audit.append("outcome", {"usage": usage, "token_count": 7, "key_id": "bob"})
    assert _of_kind(tmp_path, "outcome")[0]["usage"] == usage


_WORDS = st.sampled_from(
    [
        "authorization",
        "API_KEY",
        "apiKey",
        "x-api-key",
        "Password",
        "passwd",
        "jwt",
        "client_secret",
        "Cookie",
        "credentials",
        "access_token",
        "ToKeN",
        "total_tokens",
        "token_count",
        "doc_id",
        "Bearer abcdefghij",
        "bearer\t0123456789",
        "eyJhbGc.eyJzdWI.sig",
    ]
)
_KEYS = st.one_of(
    _WORDS,
    st.text(max_size=8),
    st.builds("{}{}{}".format, st.text(max_size=3), _WORDS, st.text(max_size=3)),
)
_VALUES = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(max_size=12), _KEYS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_the_fast_screen_never_misses_what_the_scrub_changes(fields: dict[str, Any]) -> None:
    """Whenever the scrub changes a record, the screen flags its JSON."""
    cleaned, touched = scrub_secrets(fields)
    if touched:
        assert might_hold_secrets(canonical_json(fields).encode())
    else:
        assert cleaned == fields


@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_a_scrubbed_record_holds_no_credential_shape(fields: dict[str, Any]) -> None:
    """After the scrub, no bearer or JWT shape remains and scrubbing again changes nothing."""
    cleaned, _ = scrub_secrets(fields)
    serialised = canonical_json(cleaned)
    assert not re.search(r"(?i:bearer\s+[a-z0-9._~+/=-]{8,})|eyJ[\w-]+\.[\w-]+\.", serialised)
    assert scrub_secrets(cleaned) == (cleaned, [])


async def test_open_refuses_a_head_without_segments(tmp_path: Path) -> None:
    """Deleting every segment but not the head file is not a fresh start."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {})
    for path in list_segments(tmp_path):
        path.unlink()
    with pytest.raises(DependencyUnavailable, match="head file"):
        async with AuditLog(tmp_path):
            pass


async def test_the_checkpoint_kind_is_reserved(tmp_path: Path) -> None:
    """Callers cannot write records that look like checkpoints."""
    async with AuditLog(tmp_path) as audit:
        with pytest.raises(ValueError, match="reserved"):
            await audit.append("checkpoint", {})


async def test_reserved_fields_cannot_be_overridden(tmp_path: Path) -> None:
    """Chain fields passed by a caller are replaced by the log's own."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {"seq": 99, "hash": "f" * 64, "prev_hash": "e" * 64})
    assert verify(tmp_path).ok
    assert _records(tmp_path)[0]["seq"] == 1


def test_package_exports_are_deliberate() -> None:
    """gateway.audit exports exactly its public API."""
    assert sorted(gateway.audit.__all__) == [
        "AuditLog",
        "GENESIS_HASH",
        "Location",
        "Problem",
        "SearchFilters",
        "VerifyReport",
        "exposure",
        "record_hash",
        "search",
        "show",
        "verify",
        "verify_all",
    ]


def test_importing_the_audit_cli_loads_no_elasticsearch() -> None:
    """``gateway audit`` registers without loading the Elasticsearch client."""
    script = (
        "import json, sys, gateway.audit.cli; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "elasticsearch" not in set(json.loads(done.stdout))


async def test_a_log_from_the_previous_writer_is_continued(tmp_path: Path) -> None:
    """Records written before checkpoints existed verify and are continued and sealed."""
    prev_hash, lines = GENESIS_HASH, []
    for seq in (1, 2):
        body = {
            "subject": "a",
            "audit_id": f"aud_{seq}",
            "kind": "request",
            "seq": seq,
            "time": "2026-01-01T00:00:00+00:00",
            "prev_hash": prev_hash,
        }
        prev_hash = record_hash(prev_hash, body)
        lines.append(json.dumps({**body, "hash": prev_hash}, ensure_ascii=False) + "\n")
    (tmp_path / "audit-000001.jsonl").write_text("".join(lines))
    assert verify(tmp_path).ok
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", {"subject": "b"})
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.sealed
    assert [r["seq"] for r in _records(tmp_path)] == [1, 2, 3, 4]


class _FrozenDisk:
    """A sync that blocks until released: a hung mount, as the writer sees it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, fd: int) -> None:
        self.release.wait(30)


async def test_a_frozen_disk_refuses_appends_in_bounded_time(tmp_path: Path) -> None:
    """A sync that never returns: the append fails after the write timeout, later ones at
    once, and the probe says the log cannot append."""
    frozen = _FrozenDisk()
    async with AuditLog(tmp_path, write_timeout_s=0.3) as audit:
        audit.sync = frozen
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DependencyUnavailable):
            await audit.append("request", {"n": 1})
        assert loop.time() - started < 2
        started = loop.time()
        with pytest.raises(DependencyUnavailable):
            await audit.append("request", {"n": 2})
        assert loop.time() - started < 0.2
        assert await audit.probe(0.2) is not None
        frozen.release.set()
        for _ in range(100):
            if not audit.stalled():
                break
            await asyncio.sleep(0.02)
        audit.sync = os.fsync
        await audit.append("request", {"n": 3})
        assert await audit.probe(1) is None


async def test_the_probe_fails_while_the_disk_fails(tmp_path: Path) -> None:
    """A disk that refuses writes (ENOSPC) makes the probe fail, and names no path."""

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    async with AuditLog(tmp_path) as audit:
        assert await audit.probe(1) is None
        audit.sync = full
        problem = await audit.probe(1)
        assert problem is not None
        assert str(tmp_path) not in problem
        with pytest.raises(DependencyUnavailable):
            await audit.append("request", {"n": 1})
        audit.sync = os.fsync
        assert await audit.probe(1) is None
