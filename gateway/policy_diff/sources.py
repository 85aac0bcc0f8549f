"""A policy version on disk: a directory as it is, or a git ref's policies/ extracted."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SourceError(Exception):
    """The version cannot be read: neither a directory nor a git ref with that path."""


@contextmanager
def policy_dir(ref_or_dir: str, repo: Path, subdir: str = "policies") -> Iterator[Path]:
    """The directory holding that version's policies; a temporary copy for a git ref,
    removed on exit."""
    candidate = Path(ref_or_dir)
    if candidate.is_dir():
        yield candidate
        return
    with tempfile.TemporaryDirectory(prefix="gateway-policy-") as tmp:
        target = Path(tmp)
        _extract(ref_or_dir, repo, subdir, target)
        yield target


def _extract(ref: str, repo: Path, subdir: str, target: Path) -> None:
    if ref.startswith("-"):
        raise SourceError(f"not a directory or git ref: {ref!r}")
    tree = f"{ref}:{subdir.strip('/')}" if subdir.strip("/") else ref
    try:
        archive = subprocess.run(  # noqa: S603 - a list argv; the ref cannot start an option
            ["git", "-C", str(repo), "archive", "--format=tar", tree],  # noqa: S607
            check=True,
            capture_output=True,
        ).stdout
    except FileNotFoundError as exc:
        raise SourceError("git is not installed") from exc
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(
            f"{ref!r} is neither a directory nor a git ref with {subdir}/: "
            + (message[-1] if message else "git archive failed")
        ) from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
