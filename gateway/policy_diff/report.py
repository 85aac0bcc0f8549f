"""The diff as text for a person (counts first, then details) or JSON for a pipeline."""

from __future__ import annotations

from typing import Any

from gateway.policy_diff.compare import Change
from gateway.policy_diff.diff import DiffReport, PrincipalDiff


def render_text(report: DiffReport) -> str:
    summary = report.summary()
    verdict = "WIDENS access" if report.widens else "does not widen access"
    lines = [
        f"policy diff {report.source_from} -> {report.source_to}: {verdict}",
        f"  {summary['principals']} principals evaluated over {report.indexed_chunks} "
        "indexed chunks",
        f"  gaining documents: {summary['principals_gaining']} principals, "
        f"{summary['documents_gained']} documents ({summary['chunks_gained']} chunks)",
        f"  losing documents:  {summary['principals_losing']} principals, "
        f"{summary['documents_lost']} documents ({summary['chunks_lost']} chunks)",
        f"  model grants: +{summary['model_grants_gained']} -{summary['model_grants_lost']}"
        f"   auditors: +{summary['auditors_gained']} -{summary['auditors_lost']}",
    ]
    if summary["untranslatable"]:
        lines.append(
            f"  policy cannot be compiled for {summary['untranslatable']} principals "
            "(the gateway refuses their retrieval)"
        )
    if summary["corpora"]:
        lines.append("  by corpus:")
        for corpus, c in summary["corpora"].items():
            lines.append(
                f"    {corpus}: +{c['principals_gaining']} principals / "
                f"{c['documents_gained']} documents, -{c['principals_losing']} principals / "
                f"{c['documents_lost']} documents"
            )
    lines.extend(f"  note: {note}" for note in report.notes)
    if report.changed:
        lines.append("")
        lines.append("details:")
        for diff in report.changed:
            lines.extend(_principal(diff))
    return "\n".join(lines)


def _principal(diff: PrincipalDiff) -> list[str]:
    who = diff.principal
    groups = ",".join(who.groups) or "-"
    attributes = ",".join(f"{k}={v}" for k, v in sorted(who.attributes.items())) or "-"
    lines = [f"  {who.subject} (groups {groups}; {attributes})"]
    lines.extend(_side("gains", diff.gained))
    lines.extend(_side("loses", diff.lost))
    if diff.models_gained:
        lines.append(f"    gains models: {', '.join(diff.models_gained)}")
    if diff.models_lost:
        lines.append(f"    loses models: {', '.join(diff.models_lost)}")
    for change in diff.retrieval_changes:
        before, after = change["from"], change["to"]
        lines.append(
            f"    model {change['model']}: retrieval {_retrieval(before)} -> {_retrieval(after)}"
            + (" (widens)" if change["widens"] else "")
        )
    if diff.auditor:
        lines.append(f"    {diff.auditor} the auditor role")
    for version, error in diff.errors.items():
        lines.append(f"    policy '{version}' cannot be compiled for them: {error}")
    return lines


def _side(verb: str, change: Change) -> list[str]:
    if not change.chunks:
        return []
    corpora = ", ".join(f"{k}: {v}" for k, v in sorted(change.corpora.items()))
    lines = [f"    {verb} {change.documents} documents, {change.chunks} chunks ({corpora})"]
    for doc in change.details:
        lines.append(
            f"      {doc['doc_id']}  [{doc['corpus']}, {doc['classification']}, "
            f"{doc['chunks']} chunks]"
        )
    if change.documents > len(change.details):
        lines.append(f"      ... and {change.documents - len(change.details)} more")
    return lines


def _retrieval(access: dict[str, Any]) -> str:
    if not access["retrieval"]:
        return "off"
    corpora = access["corpora"]
    return "all corpora" if corpora is None else "corpora " + ",".join(map(str, corpora))
