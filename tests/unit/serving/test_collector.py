"""The garbage collector is paused during start-up and resumes, frozen, once started."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import uvicorn

from gateway.serving import collector
from gateway.serving.uvicorn_server import StartedServer


@pytest.fixture
def restore_collector() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


@pytest.mark.usefixtures("restore_collector")
def test_pause_stops_automatic_collection() -> None:
    """After ``pause`` the collector no longer runs by itself."""
    collector.pause()
    assert not gc.isenabled()


@pytest.mark.usefixtures("restore_collector")
def test_the_started_server_resumes_with_startup_objects_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once uvicorn's start-up has finished, collection is on again and every object
    alive at that moment sits in the permanent generation."""

    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        assert not gc.isenabled()  # still paused while the lifespan starts

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    collector.pause()
    server = StartedServer(uvicorn.Config(app=lambda scope, receive, send: None))
    asyncio.run(server.startup())
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
