"""Find the files to ingest under the PATH arguments, in a stable order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gateway.ingest.documents import SourceFile


def discover(paths: Iterable[Path], *, exclude: Iterable[Path] = ()) -> list[SourceFile]:
    """Every file named or found (recursively) under ``paths``, each once, sorted.

    A file argument's ``rel`` is its name; a directory's files get their path below it.
    Hidden files and folders (``.git``, ``.DS_Store``) and the ``exclude`` paths (the
    manifest) are left out; unsupported types are not: the readers report them.
    """
    excluded = {path.resolve() for path in exclude}
    seen: set[Path] = set()
    found: list[SourceFile] = []
    for root in paths:
        for path, rel in _walk(root):
            resolved = path.resolve()
            if resolved in excluded or resolved in seen:
                continue
            seen.add(resolved)
            found.append(SourceFile(path=path, rel=rel))
    return found


def _walk(root: Path) -> list[tuple[Path, str]]:
    if not root.is_dir():
        return [(root, root.name)]
    files: list[tuple[Path, str]] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(folder, name)
            files.append((path, path.relative_to(root).as_posix()))
    return files
