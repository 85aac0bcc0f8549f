"""Whom a policy diff evaluates: principals from the keys file, JWT claims, or the audit log.

The audit log names each caller's subject and groups but not their attributes (tenant,
clearance), so subjects seen there are completed from the keys file when it knows them;
the others are evaluated with their recorded groups and no attributes, and flagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.audit.query import SearchFilters, search
from gateway.hashing import canonical_json
from gateway.identity import ApiKeysFile, Principal


class PrincipalsError(Exception):
    """A principals source cannot be read."""


@dataclass(frozen=True)
class ClaimNames:
    """Which JWT claims hold the subject, the groups and the attributes (the settings')."""

    subject: str = "sub"
    groups: str = "groups"
    attributes: tuple[str, ...] = ("tenant", "clearance")


def from_keys_file(path: Path) -> list[Principal]:
    """One principal per active key (keys of the same identity count once)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = ApiKeysFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PrincipalsError(f"cannot read the keys file {path}: {type(exc).__name__}") from None
    return unique(
        Principal(e.subject, tuple(e.groups), dict(e.attributes), key_id=e.id)
        for e in parsed.keys
        if not e.disabled
    )


def from_claims_file(path: Path, names: ClaimNames) -> list[Principal]:
    """A JSON or YAML list of JWT claim sets (or JSON lines), mapped as the gateway maps a
    verified token's claims."""
    try:
        text = path.read_text(encoding="utf-8")
        loaded: Any = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else yaml.safe_load(text)
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PrincipalsError(f"cannot read the claims file {path}: {type(exc).__name__}") from None
    if not isinstance(loaded, list):
        raise PrincipalsError(f"{path}: expected a list of claim sets")
    principals = []
    for number, claims in enumerate(loaded, start=1):
        if not isinstance(claims, dict) or not isinstance(claims.get(names.subject), str):
            raise PrincipalsError(f"{path}: claim set {number} has no {names.subject!r} claim")
        groups = claims.get(names.groups) or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise PrincipalsError(f"{path}: claim set {number}: groups must be strings")
        attributes = {c: claims[c] for c in names.attributes if c in claims}
        principals.append(Principal(claims[names.subject], tuple(groups), attributes))
    return unique(principals)


@dataclass(frozen=True)
class AuditPrincipals:
    principals: list[Principal]
    incomplete: list[str]
    """Subjects not in the keys file: evaluated without attributes."""


def from_audit_log(
    directory: Path,
    since: datetime | None,
    until: datetime | None,
    known: Sequence[Principal] = (),
) -> AuditPrincipals:
    """The subjects that made requests in [since, until), with the groups they used."""
    seen: dict[str, tuple[str, ...]] = {}
    found = search(directory, SearchFilters(since=since, until=until, kind=None))
    for record in found:
        subject = record.get("subject")
        if isinstance(subject, str) and record.get("kind") in {"request", "finetune"}:
            groups = record.get("groups")
            seen[subject] = tuple(str(g) for g in groups) if isinstance(groups, list) else ()
    by_subject = {p.subject: p for p in known}
    principals, incomplete = [], []
    for subject, groups in sorted(seen.items()):
        if subject in by_subject:
            principals.append(by_subject[subject])
        else:
            principals.append(Principal(subject, groups, {}))
            incomplete.append(subject)
    return AuditPrincipals(unique(principals), incomplete)


def unique(principals: Iterable[Principal]) -> list[Principal]:
    """Principals with the same policy input count once (first one kept)."""
    kept: dict[str, Principal] = {}
    for principal in principals:
        key = canonical_json(principal.as_policy_input())
        kept.setdefault(key, principal)
    return list(kept.values())
