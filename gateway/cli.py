"""The ``gateway`` command line.

Subcommands with heavy dependencies (Elasticsearch, the fine-tune and audit packages,
policy diff, ingest) are imported only when they run: ``gateway serve`` starts its PII
workers after reading the settings, so every module imported before that delays
readiness. ``gateway --help`` lists them from the short help kept here; a unit test
checks it against each command's own.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command

from gateway.settings import ConfigError, Settings, load_settings, reference
from gateway.version import gateway_version

if TYPE_CHECKING:
    # Typer vendors click: its commands and contexts are these classes, not click's.
    from typer import _click as click

    from gateway.identity import Principal


def _as_in_the_app(name: str, register: Callable[[typer.Typer], None]) -> click.Command:
    """The click command ``name`` exactly as registering it on the top-level app builds it
    (a sub-app with one command stays a group)."""
    wrapper = typer.Typer(add_completion=False)
    wrapper.callback()(lambda: None)
    register(wrapper)
    group = get_command(wrapper)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


def _sub_app(name: str, module: str, attribute: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        sub = getattr(importlib.import_module(module), attribute)
        return _as_in_the_app(name, lambda wrapper: wrapper.add_typer(sub, name=name))

    return load


@functools.cache
def _audit_app() -> typer.Typer:
    from gateway.audit.cli import audit_app
    from gateway.audit.export_cli import export_command

    audit_app.command("export")(export_command)
    return audit_app


def _audit_command() -> click.Command:
    audit_app = _audit_app()
    return _as_in_the_app("audit", lambda wrapper: wrapper.add_typer(audit_app, name="audit"))


def _ingest_command() -> click.Command:
    from gateway.ingest.cli import ingest_command

    def register(wrapper: typer.Typer) -> None:
        wrapper.command("ingest")(ingest_command)

    return _as_in_the_app("ingest", register)


LAZY_COMMANDS: dict[str, tuple[Callable[[], click.Command], str]] = {
    "ingest": (
        _ingest_command,
        "Index documents (.txt .md .html .jsonl .pdf) with governance fields and PII spans.",
    ),
    "audit": (_audit_command, "Verify and review the audit trail (local segments)."),
    "policy": (
        _sub_app("policy", "gateway.policy_diff.cli", "policy_app"),
        "Preview policy changes.",
    ),
    "finetune": (
        _sub_app("finetune", "gateway.finetune.migrate", "finetune_app"),
        "Fine-tuning registry maintenance.",
    ),
}
"""Subcommand name -> (loader, the short help ``gateway --help`` shows for it)."""
_LISTED_FIRST = ("ingest",)


class _Unloaded(TyperCommand):
    """Stands for a lazy subcommand in help listings until it is resolved to run."""

    def __init__(self, name: str, short_help: str) -> None:
        super().__init__(name, help=short_help, short_help=short_help)


class _LazyGroup(TyperGroup):
    """The top-level group: lazy subcommands are imported when resolved, not listed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lazy: dict[str, click.Command] = {
            name: _Unloaded(name, text) for name, (_, text) in LAZY_COMMANDS.items()
        }
        first = {name: lazy.pop(name) for name in _LISTED_FIRST}
        self.commands = {**first, **self.commands, **lazy}

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Unloaded):
            command = LAZY_COMMANDS[name][0]()
            command.name = name
            self.commands[name] = command
        return name, command, rest


app = typer.Typer(
    cls=_LazyGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Governance gateway for LLMs.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Manage gateway API keys.")
app.add_typer(keys_app, name="keys")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gateway {gateway_version() or 'unknown'}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Governance gateway for LLMs."""


def _load_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _check_or_exit(settings: Settings) -> None:
    """The API-keys file and the JWT settings must load (exit 2 with the reason if not)."""
    from gateway.identity import ApiKeyStore, KeyFileError

    try:
        ApiKeyStore.from_file(settings.api_keys_file)
    except KeyFileError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if settings.jwt_jwks_file is None:
        return  # PyJWT stays unimported: ~0.04 CPU-s of start-up
    from gateway.jwt_auth import JwksError, verifier_from_settings

    try:
        verifier_from_settings(settings)
    except JwksError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _settings_or_exit() -> Settings:
    settings = _load_or_exit()
    _check_or_exit(settings)
    return settings


@app.command()
def serve(
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            envvar="GATEWAY_WORKERS",
            help="Gateway processes on this machine, sharing the port; each writes its own "
            "audit chain (writer id <GATEWAY_AUDIT_WRITER_ID>-w<i>, or w<i>).",
        ),
    ] = 1,
) -> None:
    """Run the gateway (settings from GATEWAY_* variables or GATEWAY_CONFIG_FILE)."""
    from gateway.analysis.startup import spawn_early, stop_early, take_ahead

    if workers > 1:
        stop_early(take_ahead())
        _serve_workers(_settings_or_exit(), workers)
    from gateway.serving import collector

    collector.pause()  # the server resumes it once started (gateway.serving.collector)
    try:
        settings = _load_or_exit()
    except typer.Exit:
        stop_early(take_ahead())  # the worker gateway.entry started before the settings
        raise
    # Readiness waits for the PII workers' model load (seconds): start them before
    # anything else is imported or checked; they die with this process if it exits.
    pii_workers = spawn_early(settings)
    try:
        _check_or_exit(settings)
    except typer.Exit:
        stop_early(pii_workers)
        raise
    from gateway.logs import configure_logging
    from gateway.serving.server import STARTUP_FAILURE, run_server

    configure_logging(settings.log_level, settings.log_format)
    if not run_server(settings, pii_workers=pii_workers):
        raise typer.Exit(code=STARTUP_FAILURE)


def _serve_workers(settings: Settings, workers: int) -> None:
    from gateway.logs import configure_logging
    from gateway.serving.supervisor import Supervisor

    configure_logging(settings.log_level, settings.log_format)
    try:
        supervisor = Supervisor(settings, workers)
    except ValueError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    raise typer.Exit(code=supervisor.run())


@app.command("check-config")
def check_config() -> None:
    """Validate the settings and the API-keys file, then exit."""
    from gateway.identity import ApiKeyStore

    settings = _settings_or_exit()
    typer.echo(
        f"ok: {len(ApiKeyStore.from_file(settings.api_keys_file))} API keys, "
        f"upstream {settings.upstream_base_url}"
    )


@app.command("config-reference")
def config_reference() -> None:
    """Print every setting with its default and meaning."""
    for name, default, description in reference():
        typer.echo(f"{name}  (default: {default})\n    {description}")


@keys_app.command("new")
def keys_new(
    key_id: Annotated[str, typer.Option("--id", help="Name of the key, e.g. alice-laptop.")],
    subject: Annotated[str, typer.Option(help="Subject the key authenticates as.")],
    group: Annotated[list[str] | None, typer.Option(help="Group; repeat for several.")] = None,
    attr: Annotated[list[str] | None, typer.Option(help="Attribute KEY=VALUE; repeatable.")] = None,
) -> None:
    """Create a key: prints the secret once (stderr) and the entry for the keys file."""
    from gateway.identity import hash_key, new_key

    attributes = dict(item.split("=", 1) for item in (attr or []) if "=" in item)
    key = new_key()
    entry = {
        "id": key_id,
        "sha256": hash_key(key),
        "subject": subject,
        "groups": list(group or []),
        "attributes": attributes,
    }
    typer.echo(f"API key (shown once, store it now): {key}", err=True)
    import yaml

    typer.echo(yaml.safe_dump({"keys": [entry]}, sort_keys=False))


@app.command()
def explain(
    query: Annotated[str, typer.Argument(help="The retrieval query to explain.")],
    subject: Annotated[str, typer.Option("--as", help="Subject to evaluate as.")],
    group: Annotated[list[str] | None, typer.Option(help="Group; repeatable.")] = None,
    attr: Annotated[list[str] | None, typer.Option(help="Attribute KEY=VALUE; repeatable.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many chunks to retrieve.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the compiled filter, what it retrieves and the best matches it excluded, and why.

    If the policy cannot be compiled into an exact filter for the subject, shows why.

    Without --group/--attr, the subject's groups and attributes come from the API-keys file.
    """
    import asyncio

    from gateway.elastic import ChunkIndex
    from gateway.errors import GatewayError
    from gateway.policy import PolicyEngine
    from gateway.policy_revision import PolicyRevision
    from gateway.retrieval.explain import explain as run_explain
    from gateway.retrieval.filters import FilterCompiler

    settings = _settings_or_exit()
    principal = _principal_for(settings, subject, group, attr)

    async def run() -> dict[str, object]:
        async with (
            ChunkIndex.from_settings(settings) as index,
            PolicyEngine(str(settings.opa_url), settings.opa_timeout_s) as policy,
        ):
            revision = PolicyRevision(policy, settings.policy_poll_interval_s)
            filters = FilterCompiler(policy, revision, schema=index.schema)
            result = await run_explain(index, policy, filters, principal, query, k=k)
            return result.as_dict()

    try:
        report = asyncio.run(run())
    except GatewayError as exc:
        typer.echo(f"gateway: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_explanation(report)


def _principal_for(
    settings: Settings, subject: str, groups: list[str] | None, attrs: list[str] | None
) -> Principal:
    from gateway.identity import ApiKeyStore, Principal

    if groups is None and attrs is None:
        known = ApiKeyStore.from_file(settings.api_keys_file).principal_for_subject(subject)
        if known is not None:
            return known
    attributes = dict(item.split("=", 1) for item in (attrs or []) if "=" in item)
    return Principal(subject, tuple(groups or ()), attributes)


def _print_explanation(report: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]subject[/]: {json.dumps(report['subject'])}")
    if report.get("untranslatable"):
        console.print(
            "[bold red]retrieval refused for this subject[/]: the policy cannot be compiled "
            "into an exact filter (callers see only a generic message and their request id):"
        )
        console.print(f"  {report['untranslatable']}", markup=False)
    else:
        console.print(f"[bold]policy revision[/]: {report['policy_revision']}")
        console.print("[bold]compiled filter (Elasticsearch)[/]:")
        console.print_json(json.dumps(report["elasticsearch_filter"]))
    for title, rows, extra in (
        ("retrieved", report["retrieved"], None),
        ("best matches excluded by policy", report["excluded"], "reasons"),
    ):
        table = Table(title=title)
        for column in ("doc_id", "chunk_id", "title", "classification", "tenant", "_score"):
            table.add_column(column)
        if extra:
            table.add_column(extra)
        for row in rows:  # type: ignore[attr-defined]
            cells = [
                str(row.get(c, ""))
                for c in ("doc_id", "chunk_id", "title", "classification", "tenant", "_score")
            ]
            if extra:
                cells.append("; ".join(row.get(extra, [])))
            table.add_row(*cells)
        console.print(table)
    if report["dropped_by_recheck"]:
        console.print(
            f"[red]re-check dropped (filter disagreement!)[/]: {report['dropped_by_recheck']}"
        )


def main() -> None:
    sys.exit(app())
