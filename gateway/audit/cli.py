"""``gateway audit``: verify the trail and review it, straight from the local segments.

A directory holds one hash chain per writer (gateway worker); ``--dir`` may be repeated
for several replicas' directories. ``verify`` reports each chain on its own; ``search``,
``show`` and ``exposure`` merge every chain of every directory by time.

These commands need only the audit directories (``--dir`` or ``GATEWAY_AUDIT_DIR``) and,
for signatures, the key (``GATEWAY_AUDIT_HMAC_KEY`` or ``--hmac-key-file``; never a
command-line value, which other users could read in the process list). They read the
full gateway settings nowhere, so a reviewer can run them on a copy of the log.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.audit.query import SearchFilters, exposure, search, show
from gateway.audit.verify import VerifyReport, verify_all

audit_app = typer.Typer(
    no_args_is_help=True, help="Verify and review the audit trail (local segments)."
)

AuditDir = Annotated[
    list[Path],
    typer.Option(
        "--dir",
        envvar="GATEWAY_AUDIT_DIR",
        help="An audit directory; repeat for several (one per replica).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@audit_app.command("verify")
def verify_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Audit directories (as --dir); e.g. one per replica.", show_default=False
        ),
    ] = None,
    directory: Annotated[
        list[Path] | None,
        typer.Option(
            "--dir",
            envvar="GATEWAY_AUDIT_DIR",
            help="An audit directory; repeat for several (one per replica).",
            show_default=False,
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--hmac-key-file", help="File holding the checkpoint key.", dir_okay=False),
    ] = None,
    against_index: Annotated[
        bool,
        typer.Option(
            "--against-index",
            help="Re-verify every chain from the Elasticsearch audit index instead "
            "(GATEWAY_ELASTICSEARCH_* and GATEWAY_INDEX_PREFIX).",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Check every chain (records, checkpoints, head) of each directory, one report per
    chain; exit 0 when all are intact, 1 when any is broken."""
    key = _hmac_key(key_file)
    if against_index:
        from gateway.audit.index_verify import verify_index_from_env

        reports = verify_index_from_env(key)
    else:
        directories = [*(paths or []), *(directory or [])]
        if not directories:
            typer.echo("gateway: give an audit directory (--dir or GATEWAY_AUDIT_DIR)", err=True)
            raise typer.Exit(code=2)
        _require_dirs(directories)
        # A CLI process is single-threaded: segments can be scanned in forked workers.
        reports = verify_all(directories, key, workers=os.cpu_count() or 1)
    ok = all(report.ok for report in reports)
    if as_json:
        typer.echo(json.dumps(_reports_json(reports), indent=2))
    else:
        for report in reports:
            _print_report(report)
        if len(reports) > 1:
            broken = sum(not report.ok for report in reports)
            typer.echo(f"{len(reports)} chains, {broken} broken")
    raise typer.Exit(code=0 if ok else 1)


def _reports_json(reports: list[VerifyReport]) -> dict[str, Any]:
    """``ok`` and ``records`` over all chains, each chain's report, and every problem
    tagged with its chain (``directory``, ``writer``)."""
    return {
        "ok": all(report.ok for report in reports),
        "records": sum(report.records for report in reports),
        "chains": [report.as_dict() for report in reports],
        "problems": [
            {"directory": report.directory, "writer": report.writer, **asdict(problem)}
            for report in reports
            for problem in report.problems
        ],
    }


@audit_app.command("show")
def show_command(
    audit_id: Annotated[str, typer.Argument(help="The audit id (x-gateway-audit-id).")],
    directory: AuditDir,
    decrypt: Annotated[
        bool,
        typer.Option(
            "--decrypt",
            help="Decrypt a stored prompt with GATEWAY_AUDIT_ENCRYPTION_KEY (never an argument).",
        ),
    ] = False,
) -> None:
    """Print one record and the outcome records linked to it, as JSON."""
    _require_dirs(directory)
    found = show(directory, audit_id)
    if found is None:
        typer.echo(f"gateway: no audit record {audit_id}", err=True)
        raise typer.Exit(code=1)
    if decrypt:
        found["prompt"] = _decrypted_prompt(found["record"])
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False))


def _decrypted_prompt(record: dict[str, Any]) -> Any:
    from gateway.audit.prompts import PromptCipher, PromptKeyError

    token = record.get("prompt_encrypted")
    key = os.environ.get("GATEWAY_AUDIT_ENCRYPTION_KEY")
    if not token:
        typer.echo("gateway: this record holds no stored prompt", err=True)
        raise typer.Exit(code=1)
    if not key:
        typer.echo("gateway: set GATEWAY_AUDIT_ENCRYPTION_KEY to decrypt", err=True)
        raise typer.Exit(code=2)
    try:
        return json.loads(PromptCipher(key).decrypt(str(token)))
    except PromptKeyError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=1) from None


@audit_app.command("search")
def search_command(
    directory: AuditDir,
    subject: Annotated[str | None, typer.Option(help="Only this subject.")] = None,
    doc: Annotated[str | None, typer.Option(help="Only prompts holding this doc_id.")] = None,
    corpus: Annotated[str | None, typer.Option(help="Only prompts holding this corpus.")] = None,
    since: Annotated[str | None, typer.Option(help="From this ISO time (UTC if naive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO time.")] = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only policy denials.")] = False,
    kind: Annotated[str, typer.Option(help="Record kind; 'any' for all.")] = "request",
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: AsJson = False,
) -> None:
    """Find records by subject, document, corpus, time range or denial (all chains)."""
    _require_dirs(directory)
    filters = SearchFilters(
        subject=subject,
        doc_id=doc,
        corpus=corpus,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        denied=True if denied else None,
        kind=None if kind == "any" else kind,
        limit=limit,
    )
    found = search(directory, filters)
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    rows = [
        [
            _short_time(r.get("time")),
            str(r.get("audit_id", "")),
            str(r.get("kind", "")),
            str(r.get("subject", "")),
            str(r.get("model", "")),
            _allowed(r),
            str(len(r.get("chunks") or [])),
            "; ".join(r.get("denial_reasons") or []),
        ]
        for r in found
    ]
    headers = ["time", "audit_id", "kind", "subject", "model", "allowed", "chunks", "denial"]
    _print_table(f"{len(found)} records", headers, rows)


@audit_app.command("exposure")
def exposure_command(
    doc_id: Annotated[str, typer.Argument(help="The document id.")],
    directory: AuditDir,
    as_json: AsJson = False,
) -> None:
    """Every request whose prompt held a chunk of DOC_ID: when, who, which model (all
    chains of all directories, by time)."""
    _require_dirs(directory)
    found = exposure(directory, doc_id)
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    rows = [
        [
            _short_time(e["time"]),
            str(e["subject"]),
            str(e["audit_id"]),
            str(e["model"]),
            ", ".join(str(c["chunk_id"]) for c in e["chunks"]),
        ]
        for e in found
    ]
    title = f"{doc_id}: {len(found)} prompts"
    _print_table(title, ["time", "subject", "audit_id", "model", "chunks"], rows)


def _require_dirs(directories: list[Path]) -> None:
    for directory in directories:
        if not directory.is_dir():
            typer.echo(f"gateway: not an audit directory: {directory}", err=True)
            raise typer.Exit(code=2)


def _hmac_key(key_file: Path | None) -> str | None:
    if key_file is not None:
        return key_file.read_text().strip() or None
    return os.environ.get("GATEWAY_AUDIT_HMAC_KEY") or None


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}", param_hint=option) from None


def _short_time(value: object) -> str:
    """``2026-01-31 12:00:00`` for tables; --json keeps the full ISO time."""
    return str(value or "")[:19].replace("T", " ")


def _allowed(record: dict[str, Any]) -> str:
    allowed = record.get("allowed")
    return "" if allowed is None else ("yes" if allowed else "DENIED")


def _print_report(report: VerifyReport) -> None:
    status = "OK" if report.ok else "BROKEN"
    chain = "legacy chain" if report.writer is None else f"writer {report.writer}"
    typer.echo(f"audit log {report.directory}, {chain}: {status}")
    if report.ok:
        typer.echo(
            f"  {report.records} records in {report.segments} segments, "
            f"{report.checkpoints} checkpoints, last seq {report.last_seq}, "
            f"signatures {report.signatures}, {'sealed' if report.sealed else 'not sealed'}"
        )
    else:
        typer.echo(f"  {report.records} records intact before the first error")
    for problem in report.problems:
        typer.echo(f"  {problem}")


def _print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for header in headers:
        table.add_column(header, no_wrap=header in {"time", "audit_id"}, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # Piped output has no terminal width; keep ids on one line for grep and less.
    Console(width=None if sys.stdout.isatty() else 220).print(table)
