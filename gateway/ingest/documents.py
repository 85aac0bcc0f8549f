"""Data passed between the ingest stages: source files, raw documents and problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to ingest; ``rel`` is its ``/``-separated path below the PATH it was found in.

    ``rel`` is what manifest patterns match and the default ``doc_id``.
    """

    path: Path
    rel: str


@dataclass(frozen=True, slots=True)
class RawDocument:
    """Text extracted from a file (or one JSONL line), before governance is attached."""

    source: SourceFile
    text: str
    title_hint: str | None = None
    line: int | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    """A JSONL line's own fields (everything but ``text``), validated by the manifest."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file, JSONL line or document was not ingested.

    Printed and returned as JSON: it names the place and the problem, never content.
    """

    file: str
    message: str
    line: int | None = None
    doc_id: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.doc_id is not None:
            where = f"{where} ({self.doc_id})"
        return f"{where}: {self.message}"


class DocumentError(Exception):
    """One document (or file) cannot be ingested; the message is safe to print."""
