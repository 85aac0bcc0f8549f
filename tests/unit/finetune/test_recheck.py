"""The re-check of a stored file: matched again only when the corpus changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import pytest

from gateway.errors import GatewayError
from gateway.finetune.floor import MatchFloor
from gateway.finetune.matcher import Overlap
from gateway.finetune.recheck import FileRecheck
from gateway.finetune.registry import PROCESSED, FileEntry, Update
from gateway.finetune.scan import ScanResult

CONTENT = b"meeting notes\n"
MATCH = Overlap((1,), "memo", "legal", "restricted", "c1", 0.9, 5, 3)
WEAK = Overlap((2,), "plan", "legal", "restricted", "c2", 0.05, 4, 1)
FLOOR = MatchFloor({"score": 0.2, "shared": 30, "shared_chars": 24})


class Scanner:
    def __init__(self, state: str | None) -> None:
        self.state = state
        self.rechecked = 0

    async def corpus_state(self) -> str | None:
        return self.state

    async def recheck(self, content: bytes, purpose: str) -> ScanResult:
        self.rechecked += 1
        documents = {
            doc: {"doc_id": doc, "classification": "restricted"} for doc in ("memo", "plan")
        }
        return ScanResult(
            "", len(content), 1, [MATCH, WEAK], [], documents, corpus_state=self.state
        )


class Access:
    """The policy's floor as the test sets it (asked how often)."""

    def __init__(self, floor: MatchFloor | None = FLOOR) -> None:
        self.floor = floor
        self.asked = 0

    async def match_floor(self) -> MatchFloor | None:
        self.asked += 1
        return self.floor


class Upstream:
    def __init__(self, content: bytes = CONTENT) -> None:
        self.content = content
        self.fetched = 0

    async def get_bytes(self, path: str) -> tuple[bytes, str]:
        self.fetched += 1
        return self.content, "text/plain"


class Registry:
    def __init__(self, entry: FileEntry) -> None:
        self.entry = entry

    async def update_file(self, file_id: str, change: Callable[[FileEntry], Any]) -> Update:
        updated = change(self.entry)
        if updated is not None:
            self.entry = updated
        return Update(self.entry, written=updated is not None)


def stored(check: dict[str, Any] | None) -> FileEntry:
    return FileEntry(
        id="file-a",
        owner="bob",
        purpose="user_data",
        filename="notes.txt",
        bytes=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        created_at=0,
        status=PROCESSED,
        upstream_id="up-a",
        corpus_check=check,
    )


def recheck(
    scanner: Scanner, upstream: Upstream, registry: Registry, access: Access | None = None
) -> FileRecheck:
    return FileRecheck(
        scanner=cast(Any, scanner),
        registry=cast(Any, registry),
        upstream=cast(Any, upstream),
        access=cast(Any, access or Access()),
        audit=cast(Any, None),
    )


async def test_an_unchanged_corpus_reuses_the_recorded_match() -> None:
    """Same state as the file's last match: its matches, nothing fetched or matched."""
    check = {"state": "s1", "matches": [{"doc_id": "old"}], "documents": {}}
    scanner, upstream = Scanner("s1"), Upstream()
    found = await recheck(scanner, upstream, Registry(stored(check))).current(stored(check))
    assert (found.matched, found.matches) == (False, [{"doc_id": "old"}])
    assert (scanner.rechecked, upstream.fetched) == (0, 0)


async def test_a_changed_corpus_matches_again_and_records_the_new_state() -> None:
    """Another state (or none recorded): fetched, matched, recorded with the state read
    before the match."""
    scanner, upstream = Scanner("s2"), Upstream()
    registry = Registry(stored({"state": "s1", "matches": [], "documents": {}}))
    found = await recheck(scanner, upstream, registry).current(registry.entry)
    assert found.matched
    assert [m["doc_id"] for m in found.matches] == ["memo", "plan"]  # the policy cuts them
    assert registry.entry.corpus_check is not None
    assert registry.entry.corpus_check["state"] == "s2"
    assert [m["doc_id"] for m in registry.entry.corpus_check["matches"]] == ["memo"]
    assert registry.entry.corpus_check["left_out"] == 1  # the weak match is only counted
    assert registry.entry.corpus_check["floor"] == dict(FLOOR.least)
    assert list(registry.entry.corpus_check["documents"]) == ["memo"]
    assert (scanner.rechecked, upstream.fetched) == (1, 1)


async def test_an_unknown_state_always_matches_and_records_nothing() -> None:
    """Too many ingest runs to name a state: every use matches again."""
    scanner, upstream = Scanner(None), Upstream()
    registry = Registry(stored(None))
    checker = recheck(scanner, upstream, registry)
    for _ in range(2):
        assert (await checker.current(registry.entry)).matched
    assert registry.entry.corpus_check is None
    assert scanner.rechecked == 2


async def test_a_stored_file_that_differs_from_the_scanned_one_is_refused() -> None:
    """The upstream's bytes must be the ones scanned (SHA-256), else no decision."""
    entry = stored(None)
    checker = recheck(Scanner("s1"), Upstream(b"other bytes\n"), Registry(entry))
    with pytest.raises(GatewayError, match="differs"):
        await checker.current(replace(entry))


def cut(floor: dict[str, float]) -> dict[str, Any]:
    return {"state": "s1", "matches": [], "left_out": 3, "floor": floor, "documents": {}}


async def test_a_record_cut_to_the_same_floor_is_reused() -> None:
    scanner, upstream, access = Scanner("s1"), Upstream(), Access()
    entry = stored(cut(dict(FLOOR.least)))
    found = await recheck(scanner, upstream, Registry(entry), access).current(entry)
    assert (found.matched, scanner.rechecked, access.asked) == (False, 0, 1)
    assert found.floor == FLOOR  # handed on: the decision does not ask again


@pytest.mark.parametrize(
    "floor", [MatchFloor({"score": 0.1, "shared": 30, "shared_chars": 24}), None]
)
async def test_a_record_cut_to_another_floor_is_matched_again(floor: MatchFloor | None) -> None:
    """A lowered floor (or none: every match counts) needs what the record left out."""
    scanner, upstream = Scanner("s1"), Upstream()
    entry = stored(cut(dict(FLOOR.least)))
    access, registry = Access(floor), Registry(entry)
    found = await recheck(scanner, upstream, registry, access).current(entry)
    assert found.matched
    assert scanner.rechecked == 1
    # Asked once: the same floor decides whether the record holds, cuts the new record
    # and goes with the matches to the decision.
    assert (access.asked, found.floor) == (1, floor)
    assert registry.entry.corpus_check is not None
    assert registry.entry.corpus_check["floor"] == (None if floor is None else dict(floor.least))


async def test_a_whole_record_is_reused_without_asking_for_the_floor() -> None:
    scanner, access = Scanner("s1"), Access()
    entry = stored({"state": "s1", "matches": [], "left_out": 0, "floor": None, "documents": {}})
    found = await recheck(scanner, Upstream(), Registry(entry), access).current(entry)
    assert (found.matched, access.asked) == (False, 0)
