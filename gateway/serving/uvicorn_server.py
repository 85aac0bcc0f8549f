"""uvicorn's server, resuming the garbage collector once the gateway has started."""

from __future__ import annotations

import socket

import uvicorn

from gateway.serving import collector


class StartedServer(uvicorn.Server):
    """Once the lifespan has started and the sockets listen, the collector that
    ``run_server`` paused resumes, with start-up's objects frozen
    (``gateway.serving.collector``)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        collector.resume_frozen()
