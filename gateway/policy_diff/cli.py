"""``gateway policy diff``: preview a policy change's effect on who sees what.

Exit codes: 0 access does not widen, 1 access widens (for CI on a policy repository),
2 the diff could not be computed (bad arguments, a version OPA cannot load, Elasticsearch
or OPA unavailable).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import GatewayError
from gateway.identity import Principal
from gateway.policy_diff.diff import DiffReport
from gateway.policy_diff.opa_server import OpaServer, OpaStartError, find_opa
from gateway.policy_diff.principals import (
    ClaimNames,
    PrincipalsError,
    from_audit_log,
    from_claims_file,
    from_keys_file,
)
from gateway.policy_diff.report import render_text
from gateway.policy_diff.sources import SourceError, policy_dir
from gateway.settings import ConfigError, Settings, load_settings

policy_app = typer.Typer(no_args_is_help=True, help="Preview policy changes.")


@policy_app.command("diff")
def diff_command(
    source_from: Annotated[
        str, typer.Option("--from", help="The current policies: a directory or a git ref.")
    ],
    source_to: Annotated[
        str, typer.Option("--to", help="The proposed policies: a directory or a git ref.")
    ] = "policies",
    principals_from: Annotated[
        str,
        typer.Option(
            "--principals",
            help="keys (the API-keys file), claims (--claims-file), or audit (subjects seen "
            "in the audit log between --since and --until).",
        ),
    ] = "keys",
    keys_file: Annotated[
        Path | None,
        typer.Option(envvar="GATEWAY_API_KEYS_FILE", help="The API-keys file.", dir_okay=False),
    ] = None,
    claims_file: Annotated[
        Path | None,
        typer.Option(help="JSON/YAML list (or .jsonl) of JWT claim sets.", dir_okay=False),
    ] = None,
    audit_dir: Annotated[
        Path | None, typer.Option(envvar="GATEWAY_AUDIT_DIR", help="The audit directory.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Audit principals from (ISO).")] = None,
    until: Annotated[str | None, typer.Option(help="Audit principals before (ISO).")] = None,
    repo: Annotated[Path, typer.Option(help="Git repository for refs.")] = Path(),
    policies_path: Annotated[
        str, typer.Option(help="Directory of the policies inside the repository.")
    ] = "policies",
    details: Annotated[int, typer.Option(min=0, help="Documents listed per principal.")] = 20,
    opa_bin: Annotated[
        str | None, typer.Option(envvar="STACK_OPA_BIN", help="The OPA binary.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Evaluate both versions for every principal over the indexed documents and report who
    gains and who loses access to which documents, corpora and models."""
    try:
        settings = load_settings()
        principals, notes = _principals(
            principals_from, keys_file, claims_file, audit_dir, since, until, settings
        )
        opa = find_opa(opa_bin)
        with (
            policy_dir(source_from, repo, policies_path) as old_dir,
            policy_dir(source_to, repo, policies_path) as new_dir,
            OpaServer(opa, old_dir) as old_opa,
            OpaServer(opa, new_dir) as new_opa,
        ):
            report = asyncio.run(
                _run(
                    settings, principals, old_opa.url, new_opa.url, details, source_from, source_to
                )
            )
    except (ConfigError, PrincipalsError, SourceError, OpaStartError) as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    except GatewayError as exc:
        typer.echo(f"gateway: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    report.notes.extend(notes)
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_text(report))
    raise typer.Exit(code=1 if report.widens else 0)


async def _run(
    settings: Settings,
    principals: list[Principal],
    old_url: str,
    new_url: str,
    details: int,
    source_from: str,
    source_to: str,
) -> DiffReport:
    from gateway.elastic import ChunkIndex
    from gateway.policy_diff.compare import ChangeCounter
    from gateway.policy_diff.diff import compare
    from gateway.policy_diff.evaluate import evaluate, offered_models

    models = sorted(set(await offered_models(old_url)) | set(await offered_models(new_url)))
    before, after = await asyncio.gather(
        evaluate(old_url, principals, models), evaluate(new_url, principals, models)
    )
    async with ChunkIndex.from_settings(settings) as index:
        counter = ChangeCounter(index.client, index.name, details=details)
        indexed = await counter.indexed_chunks()
        changed = await compare(principals, before, after, counter)
    return DiffReport(source_from, source_to, indexed, len(principals), changed)


def _principals(
    source: str,
    keys_file: Path | None,
    claims_file: Path | None,
    audit_dir: Path | None,
    since: str | None,
    until: str | None,
    settings: Settings,
) -> tuple[list[Principal], list[str]]:
    keys = keys_file or settings.api_keys_file
    if source == "keys":
        return from_keys_file(keys), []
    if source == "claims":
        if claims_file is None:
            raise PrincipalsError("--principals claims needs --claims-file")
        names = ClaimNames(
            settings.jwt_subject_claim,
            settings.jwt_groups_claim,
            tuple(c.strip() for c in settings.jwt_attribute_claims.split(",") if c.strip()),
        )
        return from_claims_file(claims_file, names), []
    if source == "audit":
        directory = audit_dir or settings.audit_dir
        if not Path(directory).is_dir():
            raise PrincipalsError(f"not an audit directory: {directory}")
        known = from_keys_file(keys) if Path(keys).is_file() else []
        found = from_audit_log(Path(directory), _when(since), _when(until), known)
        notes = []
        if found.incomplete:
            notes.append(
                f"{len(found.incomplete)} subjects from the audit log are not in the keys "
                "file and were evaluated without attributes: " + ", ".join(found.incomplete[:20])
            )
        return found.principals, notes
    raise PrincipalsError(f"--principals must be keys, claims or audit, not {source!r}")


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PrincipalsError(f"not an ISO date or time: {value!r}") from None
