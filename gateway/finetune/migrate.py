"""``gateway finetune import-registry``: move an old SQLite registry into Elasticsearch.

Earlier versions kept files and jobs in ``finetune-registry.sqlite3`` next to the audit
directory, one per replica. Every file in it passed the scan and was stored upstream,
so each becomes a ``processed`` entry whose gateway id is its upstream id (callers keep
using the ids they have); its scan record (matches, time) comes along (a job on it
matches the whole file again). Idempotent: entries already in the index are left as
they are. Run it once per replica's file, then delete the files.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.elastic import elasticsearch_client
from gateway.errors import GatewayError
from gateway.finetune.registry import PROCESSED, FileEntry, Registry
from gateway.settings import ConfigError, load_settings

finetune_app = typer.Typer(no_args_is_help=True, help="Fine-tuning registry maintenance.")


def read_sqlite(path: Path) -> tuple[list[FileEntry], list[tuple[str, str, str, int]]]:
    """The files (as processed entries) and jobs (id, owner, file id, created) of an old
    registry file, opened read-only."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        scans = {
            str(file_id): (str(scanned_at), _list(matches))
            for file_id, scanned_at, matches in db.execute(
                "SELECT file_id, scanned_at, matches FROM scans"
            )
        }
        files = []
        for file_id, owner, purpose, size, sha256, _passed, created in db.execute(
            "SELECT id, owner, purpose, bytes, sha256, scan_passed, created_at FROM files"
        ):
            scanned_at, matches = scans.get(str(file_id), (None, []))
            files.append(
                FileEntry(
                    id=str(file_id),
                    owner=str(owner),
                    purpose=str(purpose),
                    filename=str(file_id),
                    bytes=int(size),
                    sha256=str(sha256),
                    created_at=int(created),
                    uploaded_at=float(created),
                    status=PROCESSED,
                    upstream_id=str(file_id),
                    scanned_at=scanned_at,
                    matches=matches,
                )
            )
        jobs = [
            (str(job_id), str(owner), str(file_id), int(created))
            for job_id, owner, file_id, created in db.execute(
                "SELECT id, owner, file_id, created_at FROM jobs"
            )
        ]
    finally:
        db.close()
    return files, jobs


async def import_entries(
    registry: Registry, files: list[FileEntry], jobs: list[tuple[str, str, str, int]]
) -> tuple[int, int]:
    """Write what the index does not hold yet; (files, jobs) imported."""
    await registry.ensure_index()
    imported = 0
    for entry in files:
        if await registry.get_file(entry.id) is None:
            await registry.add_file(entry)
            imported += 1
    for job_id, owner, file_id, created in jobs:
        await registry.add_job(owner, job_id, file_id, created)
    return imported, len(jobs)


@finetune_app.command("import-registry")
def import_registry(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The SQLite file (default: GATEWAY_FINETUNE_REGISTRY_PATH or "
            "finetune-registry.sqlite3 next to the audit directory).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import an old SQLite fine-tuning registry into the Elasticsearch registry."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    source = path or settings.finetune_registry
    if not source.is_file():
        typer.echo(f"gateway: no registry file at {source}", err=True)
        raise typer.Exit(code=2)
    try:
        files, jobs = read_sqlite(source)
    except sqlite3.Error as exc:
        typer.echo(f"gateway: cannot read {source}: {exc}", err=True)
        raise typer.Exit(code=1) from None

    async def run() -> tuple[int, int]:
        client = elasticsearch_client(settings, max_retries=2)
        try:
            return await import_entries(Registry(client, settings.index_prefix), files, jobs)
        finally:
            await client.close()

    try:
        imported, job_count = asyncio.run(run())
    except GatewayError as exc:
        typer.echo(f"gateway: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        json.dumps(
            {"files": len(files), "files_imported": imported, "jobs": job_count},
            separators=(",", ":"),
        )
    )


def _list(raw: Any) -> list[dict[str, Any]]:
    try:
        value = json.loads(str(raw))
    except ValueError:
        return []
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []
