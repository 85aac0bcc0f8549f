"""Policy diff without services: sources, principals, the widening rule, the report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identity import Principal
from gateway.policy_diff.compare import Change, same_filter
from gateway.policy_diff.diff import DiffReport, PrincipalDiff, _models, _widens
from gateway.policy_diff.evaluate import ModelAccess
from gateway.policy_diff.opa_server import OpaStartError, find_opa
from gateway.policy_diff.principals import (
    ClaimNames,
    PrincipalsError,
    from_claims_file,
    from_keys_file,
    unique,
)
from gateway.policy_diff.report import render_text
from gateway.policy_diff.sources import SourceError, policy_dir
from tests.conftest import DEMO_KEYS

BOB = Principal("bob", ("sales",), {"tenant": "acme", "clearance": "internal"})
corpora = st.none() | st.lists(st.sampled_from(["a", "b", "c"]), unique=True).map(tuple)
access = st.builds(ModelAccess, st.booleans(), st.booleans(), corpora)


@given(access, access)
def test_widening_means_a_corpus_or_retrieval_the_model_did_not_have(
    before: ModelAccess, after: ModelAccess
) -> None:
    """Retrieval widens exactly when the new setting reaches a corpus the old did not."""
    everything = {"a", "b", "c", "any corpus added later"}

    def reach(a: ModelAccess) -> set[str]:
        return set() if not a.retrieval else everything if a.corpora is None else set(a.corpora)

    assert _widens(before, after) == bool(reach(after) - reach(before))


def test_model_grants_and_retrieval_changes() -> None:
    """A model newly allowed is gained; corpora narrowed on a model do not widen."""
    diff = PrincipalDiff(BOB, Change(), Change())
    old = {"m1": ModelAccess(False, False, ()), "m2": ModelAccess(True, True, ("a", "b"))}
    new = {"m1": ModelAccess(True, True, None), "m2": ModelAccess(True, True, ("a",))}
    _models(diff, old, new)
    assert diff.models_gained == ["m1"]
    assert [c["widens"] for c in diff.retrieval_changes] == [False]
    assert diff.widens
    assert diff.narrows


def test_report_counts_then_details() -> None:
    """The text report gives the verdict and counts, then each principal's documents."""
    margins = {"doc_id": "margins", "corpus": "sales", "classification": "confidential"}
    gained = Change(2, 1, {"sales": 1}, [{**margins, "chunks": 2}])
    report = DiffReport("main", "policies", 10, 3, [PrincipalDiff(BOB, gained, Change())])
    text = render_text(report)
    assert text.splitlines()[0] == "policy diff main -> policies: WIDENS access"
    assert "gaining documents: 1 principals, 1 documents (2 chunks)" in text
    assert "sales: +1 principals / 1 documents" in text
    assert "margins  [sales, confidential, 2 chunks]" in text
    assert report.as_dict()["summary"]["documents_gained"] == 1
    assert json.loads(json.dumps(report.as_dict()))["widens"] is True


def test_same_filter_ignores_key_order() -> None:
    """Filters equal up to key order are the same; None (untranslatable) differs from all."""
    assert same_filter({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same_filter(None, {"match_none": {}})


def test_keys_file_principals_skip_disabled_and_duplicates() -> None:
    """The demo keys give alice, bob and carol with their attributes."""
    principals = from_keys_file(DEMO_KEYS)
    assert [p.subject for p in principals] == ["alice", "bob", "carol"]
    assert principals[1].attributes == {"tenant": "acme", "clearance": "internal"}
    assert unique([*principals, principals[0]]) == principals


def test_claims_file(tmp_path: Path) -> None:
    """Claim sets map like a verified token's; a set without a subject is an error."""
    claims = tmp_path / "claims.yaml"
    claims.write_text("- {sub: dana, groups: [eng], tenant: acme, email: d@x}\n")
    [dana] = from_claims_file(claims, ClaimNames())
    assert dana == Principal("dana", ("eng",), {"tenant": "acme"})
    claims.write_text("- {groups: [eng]}\n")
    with pytest.raises(PrincipalsError, match="no 'sub' claim"):
        from_claims_file(claims, ClaimNames())


def test_git_ref_source_extracts_the_committed_policies(tmp_path: Path) -> None:
    """A git ref yields its policies/ in a temporary directory, removed afterwards."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "a.rego").write_text("package a\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    (tmp_path / "policies" / "a.rego").write_text("package changed\n")
    with policy_dir("HEAD", tmp_path) as directory:
        assert (directory / "a.rego").read_text() == "package a\n"
        extracted = directory
    assert not extracted.exists()
    with pytest.raises(SourceError):
        policy_dir("no-such-ref", tmp_path).__enter__()
    with pytest.raises(SourceError):
        policy_dir("--output=/tmp/x", tmp_path).__enter__()


def test_missing_opa_binary_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No binary given, none in .stack/bin or on PATH: an error naming the fix."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OpaStartError, match="--opa-bin"):
        find_opa(None)
