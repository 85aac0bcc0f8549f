"""A private OPA for one policy version: a free loopback port, stopped with nothing left.

It loads the directory once (no --watch) and ignores ``*_test.rego``, as the stack's OPA
does; a version OPA cannot load is an error naming OPA's own message.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx


class OpaStartError(Exception):
    """OPA could not serve this policy version."""


def find_opa(explicit: str | None) -> str:
    """The OPA binary: the given path, the stack's ``.stack/bin/opa``, or ``opa`` on PATH."""
    for candidate in (explicit, ".stack/bin/opa", shutil.which("opa")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise OpaStartError("no OPA binary: pass --opa-bin or set STACK_OPA_BIN")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OpaServer:
    """``with OpaServer(bin, dir) as opa: opa.url`` serves ``dir`` until the block ends."""

    def __init__(self, binary: str, directory: Path, *, timeout_s: float = 30.0) -> None:
        self.binary = binary
        self.directory = directory
        self.timeout_s = timeout_s
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> Self:
        for _attempt in range(3):  # another process may take the port between probe and bind
            port = _free_port()
            if self._start(port):
                self.url = f"http://127.0.0.1:{port}"
                return self
        raise OpaStartError(f"OPA found no free port for {self.directory}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _start(self, port: int) -> bool:
        self._stop()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _stop
        self._process = subprocess.Popen(  # noqa: S603
            [
                self.binary,
                "run",
                "--server",
                "--addr",
                f"127.0.0.1:{port}",
                "--log-level",
                "error",
                "--ignore",
                "*_test.rego",
                str(self.directory),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self._output()
                self._stop()
                if "address already in use" in output:
                    return False
                raise OpaStartError(f"OPA cannot load {self.directory}: {output}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self._stop()
        raise OpaStartError(f"OPA did not become healthy within {self.timeout_s:.0f} s")

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
