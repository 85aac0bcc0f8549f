"""A worker of ``gateway serve --workers N``: one gateway on the supervisor's socket.

Started by the supervisor as ``python -m gateway.serving.worker --fd FD --parent PID``
with ``GATEWAY_AUDIT_WRITER_ID`` set to its own writer id. First of all it asks the kernel
for SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), then checks that the parent
is still the one that started it (it may have died in between): a worker never outlives
its supervisor, and SIGTERM is a graceful shutdown (in-flight requests finish, the audit
log is sealed, PII workers are closed).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGTERM this process when ``parent`` exits; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gateway.serving.worker")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket")
    parser.add_argument("--parent", type=int, required=True, help="the supervisor's pid")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)

    from gateway.logs import configure_logging
    from gateway.serving.server import STARTUP_FAILURE, run_server
    from gateway.settings import load_settings

    settings = load_settings()  # the supervisor validated the same environment
    configure_logging(settings.log_level, settings.log_format)
    sock = socket.socket(fileno=args.fd)
    if not run_server(settings, sock):
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
