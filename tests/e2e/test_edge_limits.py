"""Connection limits of the real ``gateway serve`` process (uvicorn + the guarded parser).

Each test reproduces an attack from issue #12 against a running gateway and checks that
the connection is refused or closed in bounded time while other callers are served.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ..conftest import BOB
from .conftest import RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

LIMITS = {
    "GATEWAY_MAX_HEADER_BYTES": "16384",
    "GATEWAY_MAX_REQUEST_LINE_BYTES": "2048",
    "GATEWAY_HEADER_TIMEOUT_S": "1",
    "GATEWAY_BODY_TIMEOUT_S": "1",
    "GATEWAY_KEEPALIVE_TIMEOUT_S": "1",
    "GATEWAY_MAX_CONNECTIONS": "40",
}
# No Presidio: these tests are about connections, and start-up stays fast.
NO_ANALYSIS = {"GATEWAY_MESSAGE_PII_ANALYSIS": "false", "GATEWAY_FINETUNE_PII_SCAN": "false"}


@pytest.fixture(scope="module")
def limited(
    stack_env: dict[str, str], demo_index: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = start_gateway(stack_env, tmp_path_factory.mktemp("limited"), **LIMITS, **NO_ANALYSIS)
    yield running
    stop_gateway(running)


def _connect(gateway: RunningGateway) -> socket.socket:
    parts = urlsplit(gateway.base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    sock.settimeout(limit_s)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def _healthz_ms(gateway: RunningGateway) -> float:
    started = time.monotonic()
    assert httpx.get(f"{gateway.base_url}/healthz", timeout=10).status_code == 200
    return (time.monotonic() - started) * 1000


def test_a_64_mib_header_is_refused_without_stalling_others(limited: RunningGateway) -> None:
    """A 64 MiB header line: 431 and closed early, while /healthz stays fast meanwhile."""
    sock = _connect(limited)
    outcome: dict[str, object] = {}

    def attack() -> None:
        started = time.monotonic()
        sent = 0
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            block = b"a" * (1024 * 1024)
            for _ in range(64):
                sock.sendall(block)
                sent += len(block)
        except OSError:
            pass
        outcome["sent"] = sent
        outcome["seconds"] = time.monotonic() - started

    attacker = threading.Thread(target=attack)
    attacker.start()
    latencies = [_healthz_ms(limited) for _ in range(10)]
    attacker.join(timeout=30)
    received, _ = _read_until_closed(sock, 5)
    sock.close()
    assert _status(received) == 431, received[:200]
    assert b"x-request-id: req_" in received
    assert int(outcome["sent"]) < 64 * 1024 * 1024  # type: ignore[call-overload]
    assert max(latencies) < 1000, latencies


def test_a_long_request_line_is_414(limited: RunningGateway) -> None:
    """A request target past the limit is refused with 414."""
    sock = _connect(limited)
    sock.sendall(b"GET /" + b"a" * 4096 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    received, _ = _read_until_closed(sock, 5)
    sock.close()
    assert _status(received) == 414


@pytest.mark.parametrize(
    "dribble",
    [
        b"",  # an idle connection that never sends a byte
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"GET /healthz HTT",  # half a request line
    ],
)
def test_idle_and_incomplete_connections_are_closed(
    limited: RunningGateway, dribble: bytes
) -> None:
    """Idle, half-request-line and unfinished-header connections are closed in bounded time."""
    sock = _connect(limited)
    if dribble:
        sock.sendall(dribble)
    received, seconds = _read_until_closed(sock, 10)
    sock.close()
    assert seconds < 5
    assert _status(received) in {0, 408}


def test_slowloris_headers_are_cut_off(limited: RunningGateway) -> None:
    """One header byte every 0.2 s does not keep a connection open past the header timeout."""
    sock = _connect(limited)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed = False
    try:
        for _ in range(50):
            sock.sendall(b"X")
            time.sleep(0.2)
    except OSError:
        closed = True
    if not closed:
        received, _ = _read_until_closed(sock, 5)
        closed = _status(received) == 408 or received == b""
    sock.close()
    assert closed
    assert time.monotonic() - started < 8


def test_a_slow_body_is_cut_off(limited: RunningGateway) -> None:
    """A body that never completes gets 408 / a closed connection after the body timeout."""
    sock = _connect(limited)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + BOB.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    received, seconds = _read_until_closed(sock, 10)
    sock.close()
    assert seconds < 5
    assert _status(received) in {0, 408}


def test_connections_past_the_limit_are_refused_and_others_recover(
    limited: RunningGateway,
) -> None:
    """Past max_connections a new connection gets 503 at once; closing frees the slots."""
    held = [_connect(limited) for _ in range(45)]
    try:
        time.sleep(0.3)
        extra = _connect(limited)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        received, _ = _read_until_closed(extra, 5)
        extra.close()
        assert _status(received) == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{limited.base_url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("the gateway did not recover after the connections were closed")


def _audit_records(audit_dir: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(audit_dir.glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_forwarded_for_is_ignored_without_trusted_proxies(limited: RunningGateway) -> None:
    """X-Forwarded-For from a client is not believed: the audit has the peer's address."""
    response = httpx.post(
        f"{limited.base_url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={
            "Authorization": f"Bearer {BOB}",
            "X-Forwarded-For": "<script>alert(1)</script>, 203.0.113.9",
        },
        timeout=30,
    )
    assert response.status_code == 403
    audit_id = response.headers["x-gateway-audit-id"]
    (record,) = [r for r in _audit_records(limited.audit_dir) if r["audit_id"] == audit_id]
    assert record["client_address"] == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy_is_stored_safely(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path
) -> None:
    """With loopback trusted as a proxy, the forwarded address is used only if it is an IP."""
    gateway = start_gateway(stack_env, tmp_path, GATEWAY_TRUSTED_PROXIES="127.0.0.1", **NO_ANALYSIS)
    try:
        ids = []
        for forwarded in ("203.0.113.9", "<script>alert(1)</script>"):
            response = httpx.post(
                f"{gateway.base_url}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {BOB}", "X-Forwarded-For": forwarded},
                timeout=30,
            )
            assert response.status_code == 403
            ids.append(response.headers["x-gateway-audit-id"])
        records = {r["audit_id"]: r for r in _audit_records(gateway.audit_dir)}
        assert records[ids[0]]["client_address"] == "203.0.113.9"
        assert records[ids[1]]["client_address"] is None
        assert "<script>" not in json.dumps(list(records.values()))
    finally:
        stop_gateway(gateway)
