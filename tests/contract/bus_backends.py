"""Fixtures that open each bus backend for the bus contract suite.

Redis runs on 127.0.0.1:6379; each test gets its own random key prefix (and client name,
so that a test can kill its own connections without touching anyone else's) and its keys
are deleted afterwards. Without a reachable Redis the redis cases are skipped, unless
``FLUNQ_REQUIRE_SERVICES=1`` (set in CI) makes them fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from flunq.bus import Bus, open_bus

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ["memory", "redis"]

MakeBus = Callable[..., Awaitable[Bus]]


@functools.cache
def redis_problem() -> str | None:
    """Why Redis cannot be used, or ``None`` when it answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis is not reachable at {REDIS_URL}: {exc}"
    finally:
        client.close()
    return None


def require_redis() -> None:
    problem = redis_problem()
    if problem is None:
        return
    if os.environ.get("FLUNQ_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{problem} (FLUNQ_REQUIRE_SERVICES=1 makes this an error)")
    pytest.skip(problem)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "redis":
        require_redis()
    return name


@pytest.fixture
def prefix() -> str:
    return f"flunqtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_admin() -> AsyncIterator[aioredis.Redis]:
    """A plain client to poke at Redis behind the bus's back."""
    require_redis()
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _delete_keys(pattern: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def make_bus(backend: str, prefix: str) -> AsyncIterator[MakeBus]:
    """``await make_bus(**options)``: a started bus; on Redis all share the test's prefix,
    like several processes sharing one deployment."""
    made: list[Bus] = []

    async def make(**options: Any) -> Bus:
        if backend == "memory":
            bus = open_bus("memory://", **options)
        else:
            options.setdefault("client_name", prefix)
            bus = open_bus(f"{REDIS_URL}?prefix={prefix}", **options)
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()
    if backend == "redis":
        await _delete_keys(f"{prefix}:*")


@pytest.fixture
async def bus(make_bus: MakeBus) -> Bus:
    """A bus with quick redelivery (0.2 s) and at most 3 deliveries."""
    return await make_bus(redeliver_after=0.2, max_deliveries=3)
