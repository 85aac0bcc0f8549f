"""Edge benchmark: what cheap attacks without a key cost the other callers.

    eval "$(deploy/local/stack.sh env)"
    uv run python tests/bench/bench_edge.py [--header-mib 64] [--idle 1100]

Starts the gateway twice on the stack (without Presidio, which plays no part here): as
``gateway serve`` runs it (the guarded protocol and its limits) and, for comparison, on
uvicorn's plain httptools protocol with uvicorn's defaults (``--unguarded`` only). For
each it measures:

- /healthz latency (median, max) from a well-behaved client while another connection
  sends one huge header line, and how long until that connection is refused;
- with ``--idle`` connections open and silent: whether a new request still succeeds,
  and how many of the idle connections are still open after the header timeout + 2 s;
- slowloris: 50 connections sending a header byte every 0.5 s, still open after the
  header timeout + 2 s.
Not a test; figures go into tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

REPO = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT_S = 3
UNGUARDED = """
import uvicorn
from gateway.app import create_app
from gateway.settings import load_settings
s = load_settings()
uvicorn.run(create_app(s), host=s.host, port=s.port, loop="uvloop", http="httptools",
            log_config=None, access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(port: int, audit_dir: Path, guarded: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_AUDIT_DIR": str(audit_dir),
        "GATEWAY_API_KEYS_FILE": str(REPO / "deploy/local/demo/api-keys.yaml"),
        "GATEWAY_MESSAGE_PII_ANALYSIS": "false",
        "GATEWAY_FINETUNE_PII_SCAN": "false",
        "GATEWAY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    }
    command = (
        [str(Path(sys.executable).with_name("gateway")), "serve"]
        if guarded
        else [sys.executable, "-c", UNGUARDED]
    )
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the gateway did not start")


def huge_header(port: int, mib: int) -> dict[str, float]:
    latencies: list[float] = []
    refused_after: list[float] = []
    sock = socket.create_connection(("127.0.0.1", port))

    def attack() -> None:
        started = time.monotonic()
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            block = b"a" * (1024 * 1024)
            for _ in range(mib):
                sock.sendall(block)
            sock.sendall(b"\r\n\r\n")
            sock.settimeout(120)
            sock.recv(100)
        except OSError:
            pass
        refused_after.append(time.monotonic() - started)

    thread = threading.Thread(target=attack)
    thread.start()
    errors = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        while thread.is_alive() or len(latencies) < 20:
            started = time.monotonic()
            try:
                client.get("/healthz")
            except httpx.HTTPError:  # e.g. a keep-alive timer fired late by a blocked loop
                errors += 1
            latencies.append((time.monotonic() - started) * 1000)
            time.sleep(0.05)
    thread.join()
    sock.close()
    return {
        "healthz_p50_ms": round(statistics.median(latencies), 1),
        "healthz_max_ms": round(max(latencies), 1),
        "healthz_errors": errors,
        "attacker_done_s": round(refused_after[0], 2),
    }


def still_open(sockets: list[socket.socket]) -> int:
    count = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(65536) == b"":
                continue
        except BlockingIOError:
            count += 1
            continue
        except OSError:
            continue
        # Data then maybe a close (a 408): read until closed or nothing more.
        try:
            while sock.recv(65536):
                pass
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def idle_flood(port: int, count: int) -> dict[str, object]:
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    try:
        response_ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        response_ok = False
    time.sleep(HEADER_TIMEOUT_S + 2)
    left = still_open(sockets)
    for sock in sockets:
        sock.close()
    return {"opened": len(sockets), "new_request_ok": response_ok, "still_open": left}


def slowloris(port: int, count: int = 50) -> dict[str, int]:
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    deadline = time.monotonic() + HEADER_TIMEOUT_S + 2
    while time.monotonic() < deadline:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(b"X")
        time.sleep(0.5)
    left = still_open(sockets)
    for sock in sockets:
        sock.close()
    return {"connections": count, "still_open": left}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--header-mib", type=int, default=64)
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--unguarded", action="store_true", help="also run plain httptools")
    args = parser.parse_args()
    variants = [("guarded (gateway serve)", True)]
    if args.unguarded:
        variants.append(("plain httptools (before)", False))
    for name, guarded in variants:
        with TemporaryDirectory() as tmp:
            port = free_port()
            process = start(port, Path(tmp) / "audit", guarded)
            try:
                print(f"== {name}")
                print("  huge header:", huge_header(port, args.header_mib))
                print("  idle flood: ", idle_flood(port, args.idle))
                print("  slowloris:  ", slowloris(port))
            finally:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
