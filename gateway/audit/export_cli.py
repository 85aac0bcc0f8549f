"""``gateway audit export``: the trail as OCSF JSON lines, CEF or syslog, from a cursor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.audit.export import FORMATS, CursorError, ExportCursor, Format, export


def export_command(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", envvar="GATEWAY_AUDIT_DIR", help="The audit directory.", show_default=False
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="ocsf (OCSF 1.9 JSON lines), cef, or syslog (RFC 5424 + CEF)."
        ),
    ] = "ocsf",
    cursor: Annotated[
        Path | None,
        typer.Option(
            help="Cursor file: export what follows it, then move it (created when absent).",
            dir_okay=False,
        ),
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="Export the records after this audit id.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Append to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many records.")] = None,
    hostname: Annotated[
        str | None, typer.Option(help="Syslog HOSTNAME field (default: this machine's name).")
    ] = None,
    writer: Annotated[
        str | None,
        typer.Option(help="The chain to export (a worker's writer id; default: legacy chain)."),
    ] = None,
) -> None:
    """Export records for a SIEM, incrementally: every kind, in log order, one per line.

    Exit 0 when done (also when nothing was new), 1 when the cursor no longer matches the
    log (truncated or rewritten: run `gateway audit verify`), 2 for bad arguments.
    """
    if fmt not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    if cursor is not None and after is not None:
        raise typer.BadParameter("give --cursor or --after, not both", param_hint="--after")
    if not directory.is_dir():
        typer.echo(f"gateway: not an audit directory: {directory}", err=True)
        raise typer.Exit(code=2)
    try:
        start = ExportCursor(after) if after else (ExportCursor.load(cursor) if cursor else None)
        if output is None:
            result = export(
                directory,
                sys.stdout,
                _format(fmt),
                after=start,
                limit=limit,
                hostname=hostname,
                writer=writer,
            )
        else:
            with output.open("a", encoding="utf-8") as out:
                result = export(
                    directory,
                    out,
                    _format(fmt),
                    after=start,
                    limit=limit,
                    hostname=hostname,
                    writer=writer,
                )
    except CursorError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if cursor is not None and result.cursor is not None and result.exported:
        result.cursor.save(cursor)
    last = result.cursor.audit_id if result.cursor else "-"
    typer.echo(f"exported {result.exported} records (last: {last})", err=True)


def _format(value: str) -> Format:
    for known in FORMATS:
        if value == known:
            return known
    raise typer.BadParameter(value, param_hint="--format")
