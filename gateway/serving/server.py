"""run_server(): the gateway app under uvicorn, exactly as ``gateway serve`` runs it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.serving import collector
from gateway.tokens import encoding

if TYPE_CHECKING:
    from gateway.settings import Settings

STARTUP_FAILURE = 3
"""Exit code of a server whose lifespan did not start (uvicorn's own)."""
GRACEFUL_SHUTDOWN_S = 15


def run_server(
    settings: Settings,
    sock: socket.socket | None = None,
    pii_workers: Sequence[subprocess.Popen[bytes]] | None = None,
) -> bool:
    """Serve until a signal stops it; True if the app had started (False: start-up failed).

    With ``sock``, serve on that listening socket (a supervisor's, shared by its workers)
    instead of binding ``settings.host:settings.port``. ``pii_workers``: started by the
    caller with ``spawn_early``; when None they are started here.
    """
    collector.pause()  # until the server has started (see gateway.serving.collector)
    if pii_workers is None:
        from gateway.analysis.startup import spawn_early

        # The PII workers load their model while the application is imported and started.
        pii_workers = spawn_early(settings)

    # The token tables (~0.6 CPU-s) load beside the application's imports, never on
    # the event loop: the lifespan waits for them (``open_services``).
    threading.Thread(target=encoding, name="token-tables", daemon=True).start()

    import uvicorn

    from gateway.app import create_app
    from gateway.server_limits import ServerLimits, guarded_protocol
    from gateway.serving.uvicorn_server import StartedServer

    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    config = uvicorn.Config(
        create_app(settings, pii_workers),
        host=settings.host,
        port=settings.port,
        # uvloop's event loop and httptools' C parser: ~1 ms less per proxied request
        # than asyncio + h11 (tests/bench/bench_chat.py); the parser gets the limits it
        # lacks (header size, header and body timeouts, connections) from a subclass.
        loop="uvloop",
        http=guarded_protocol(ServerLimits.from_settings(settings)),
        timeout_keep_alive=settings.keepalive_timeout_s,
        # X-Forwarded-* only from the proxies named (uvicorn trusts loopback by default).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    server = StartedServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock] if sock is not None else None)
    return server.started
