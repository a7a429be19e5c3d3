"""Fixtures of the end-to-end tests (real processes; see support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import EffectServer, RedisServer


@pytest.fixture
def effect_server() -> Iterator[EffectServer]:
    with EffectServer() as server:
        yield server


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server on a free port, stopped after the test."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()
