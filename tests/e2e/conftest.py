"""Run the real ``gateway serve`` process against the real stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..conftest import DEMO_KEYS, REPO

E2E_INDEX_PREFIX = "gateway-e2e"


@pytest.fixture(scope="session")
def demo_index(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo corpus, ingested once per session into the e2e gateway's index."""
    import asyncio

    from gateway.elastic import ChunkIndex
    from gateway.settings import load_settings

    from ..integration.conftest import ingest_demo

    settings = load_settings(
        upstream_base_url=stack_env["GATEWAY_UPSTREAM_BASE_URL"],
        elasticsearch_url=stack_env["GATEWAY_ELASTICSEARCH_URL"],
        elasticsearch_username=stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME"),
        elasticsearch_password=stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD"),
        audit_dir=tmp_path_factory.mktemp("audit"),
        api_keys_file=DEMO_KEYS,
        index_prefix=E2E_INDEX_PREFIX,
    )

    async def load() -> None:
        async with ChunkIndex.from_settings(settings) as index:
            await ingest_demo(index)

    asyncio.run(load())
    return E2E_INDEX_PREFIX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningGateway:
    base_url: str
    process: subprocess.Popen[bytes]
    audit_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def gateway_executable() -> str:
    return str(Path(sys.executable).with_name("gateway"))


def start_gateway(env: dict[str, str], tmp_path: Path, **overrides: str) -> RunningGateway:
    port = free_port()
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        **env,
        "GATEWAY_PORT": str(port),
        "GATEWAY_AUDIT_DIR": str(tmp_path / "audit"),
        "GATEWAY_API_KEYS_FILE": str(DEMO_KEYS),
        "GATEWAY_INDEX_PREFIX": E2E_INDEX_PREFIX,
        **overrides,
    }
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [gateway_executable(), "serve"],
            env=full_env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = RunningGateway(f"http://127.0.0.1:{port}", process, tmp_path / "audit", log_path)
    # Generous: the shared 2-core machine is often saturated (idle start-up is seconds).
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited during start-up:\n{gateway.log()}")
        try:
            if httpx.get(f"{gateway.base_url}/healthz", timeout=1).status_code == 200:
                _wait_for_pii_workers(gateway, deadline + 180)
                return gateway
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gateway did not start:\n{gateway.log()}")


def _wait_for_pii_workers(gateway: RunningGateway, deadline: float) -> None:
    """The lifespan does not wait for the PII workers' models; /readyz names them."""
    while time.monotonic() < deadline:
        checks = httpx.get(f"{gateway.base_url}/readyz", timeout=10).json()["checks"]
        if checks.get("pii_analysis", {"ok": True})["ok"]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"PII workers not ready:\n{gateway.log()}")


def stop_gateway(gateway: RunningGateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


@pytest.fixture
def gateway(stack_env: dict[str, str], demo_index: str, tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(stack_env, tmp_path)
    yield running
    stop_gateway(running)
