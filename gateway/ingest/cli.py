"""``gateway ingest``: index files into the governed chunk index and print a summary.

Exit codes: 0 everything ingested, 1 a file or document failed (the rest were
ingested) or Elasticsearch failed, 2 a configuration error (settings, manifest, options).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from gateway.governance_schema import GovernanceSchema
    from gateway.ingest.pipeline import IngestOptions, IngestReport
    from gateway.pii.analyzer import SpanAnalyzer
    from gateway.settings import Settings

# Heavy modules (Elasticsearch, pypdf, Presidio) are imported inside the functions, so that
# registering this command keeps every other ``gateway`` command fast to start.

app = typer.Typer(add_completion=False, help="Governed ingest into the chunk index.")


def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True, metavar="PATH", help="Files or folders (searched recursively)."
        ),
    ],
    corpus: Annotated[str, typer.Option("--corpus", help="Corpus the documents belong to.")],
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", exists=True, dir_okay=False, help="Governance manifest."),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete the corpus's documents absent from PATHs.")
    ] = False,
    chunk_tokens: Annotated[
        int, typer.Option("--chunk-tokens", min=16, help="Largest chunk, in tokens.")
    ] = 400,
    overlap: Annotated[
        int, typer.Option("--overlap", min=0, help="Tokens shared by consecutive chunks.")
    ] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index documents (.txt .md .html .jsonl .pdf) with governance fields and PII spans."""
    from rich.console import Console

    from gateway.errors import DependencyUnavailable
    from gateway.governance_schema import load_schema
    from gateway.pii.analyzer import PiiEngineError, PresidioAnalyzer
    from gateway.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    schema = load_schema(settings.governance_schema_file)  # validated with the settings
    options = _options_or_exit(corpus, manifest, prune, chunk_tokens, overlap, schema)
    # pypdf logs parser warnings that can quote bytes of a document.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    console = Console(stderr=True)
    show_progress = console.is_terminal and not json_output
    try:
        report = asyncio.run(
            ingest(paths, options, settings, PresidioAnalyzer(), console if show_progress else None)
        )
    except DependencyUnavailable as exc:
        typer.echo(f"gateway: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    except PiiEngineError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_output else render(report))
    raise typer.Exit(code=0 if report.ok else 1)


app.command("ingest")(ingest_command)


async def ingest(
    paths: Sequence[Path],
    options: IngestOptions,
    settings: Settings,
    analyzer: SpanAnalyzer,
    console: Console | None = None,
) -> IngestReport:
    """One run against the settings' Elasticsearch; a progress bar when ``console``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gateway.elastic import ChunkIndex
    from gateway.ingest.pipeline import run_ingest

    async with ChunkIndex.from_settings(settings) as index:
        if console is None:
            return await run_ingest(paths, options, index=index, analyzer=analyzer)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            return await run_ingest(
                paths, options, index=index, analyzer=analyzer, progress=_Bar(bar)
            )


def render(report: IngestReport) -> str:
    """The human summary: counts, timings, then each problem (never any content)."""
    presidio = report.presidio
    rate = presidio.chars_per_second
    lines = [
        f"corpus {report.corpus} -> index {report.index}",
        f"files: {report.files_seen} seen, {report.files_with_errors} with errors",
        f"documents: {report.indexed} indexed, {report.replaced} replaced, "
        f"{report.skipped} skipped (unchanged), {report.pruned} pruned (prune: {report.prune})",
        f"chunks: {report.chunks_written} written, {report.chunks_deleted} deleted",
        f"presidio: {presidio.chunks} chunks, {presidio.chars:,} chars in "
        f"{presidio.seconds:.2f} s"
        + (f" ({rate:,.0f} chars/s)" if rate else "")
        + (f"; model load {presidio.load_seconds:.1f} s" if presidio.load_seconds else ""),
        f"took {report.seconds:.2f} s",
    ]
    if report.problems:
        lines.append(f"errors ({len(report.problems)}):")
        lines.extend(f"  {problem}" for problem in report.problems)
    if report.warnings:
        lines.append("warnings:")
        lines.extend(f"  {warning}" for warning in report.warnings)
    return "\n".join(lines)


def _options_or_exit(
    corpus: str,
    manifest_path: Path | None,
    prune: bool,
    chunk_tokens: int,
    overlap: int,
    schema: GovernanceSchema,
) -> IngestOptions:
    from gateway.ingest.manifest import Manifest, ManifestError, check_corpus, load_manifest
    from gateway.ingest.pipeline import IngestOptions

    try:
        manifest = load_manifest(manifest_path, schema) if manifest_path is not None else Manifest()
        check_corpus(corpus, manifest)
    except ManifestError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if overlap >= chunk_tokens:
        typer.echo("gateway: --overlap must be smaller than --chunk-tokens", err=True)
        raise typer.Exit(code=2)
    return IngestOptions(
        corpus=corpus,
        manifest=manifest,
        prune=prune,
        chunk_tokens=chunk_tokens,
        overlap=overlap,
        exclude=(manifest_path,) if manifest_path is not None else (),
    )


class _Bar:
    """The pipeline's ProgressSink as a rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("ingesting", total=None)

    def start(self, total_files: int) -> None:
        self._progress.update(self._task, total=total_files)

    def advance(self) -> None:
        self._progress.advance(self._task)
