"""The api role answers a kept-alive connection at once (no Nagle/delayed-ACK stall)."""

from __future__ import annotations

import socket
import statistics
import time
from pathlib import Path

import pytest

from tests.e2e.support import FlunqProcess, free_port, running

pytestmark = pytest.mark.slow


def exchange(sock: socket.socket) -> float:
    """One GET /healthz on an open connection (a single write); seconds until the full answer."""
    started = time.perf_counter()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: flunq\r\n\r\n")
    data = b""
    while not data.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return time.perf_counter() - started


def test_kept_alive_connections_get_prompt_answers(tmp_path: Path) -> None:
    flunq = FlunqProcess("flunq", tmp_path, port=free_port(), data_dir=tmp_path / "data")
    with running([flunq]):
        flunq.start().wait_ready()
        with socket.create_connection(("127.0.0.1", flunq.port or 0), timeout=5) as sock:
            times = [exchange(sock) for _ in range(9)]
    assert statistics.median(times) < 0.02, [f"{t * 1000:.1f} ms" for t in times]
