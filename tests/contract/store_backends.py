"""Store fixtures and record builders of the contract suite (the same tests, every backend).

``store_factory`` opens stores of the test's backend (parametrized over
:data:`STORE_BACKENDS`); opening again reaches the same data (same SQLite file, same Redis
prefix), so tests can close and reopen. Redis gets a random key prefix per test and its
keys are deleted afterwards. When Redis cannot be reached its tests skip, unless
``FLUNQ_REQUIRE_SERVICES=1`` (CI) makes them fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from flunq.store import Store, open_store
from flunq.store.base import (
    Commit,
    DefinitionRecord,
    ExecutionRecord,
    JournalEntry,
    ListenerRecord,
    Timer,
)

STORE_BACKENDS = ["memory", "sqlite", "redis"]
REDIS_URL = os.environ.get("FLUNQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

StoreFactory = Callable[..., Awaitable[Store]]

_redis_problem: list[str | None] = []  # cached answer of redis_problem()


def services_required() -> bool:
    return os.environ.get("FLUNQ_REQUIRE_SERVICES") == "1"


def redis_problem() -> str | None:
    """Why the test Redis cannot be used, or None when it answers PING."""
    if not _redis_problem:
        import redis

        try:
            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
            client.ping()
            client.close()
            _redis_problem.append(None)
        except Exception as exc:
            _redis_problem.append(f"Redis not reachable at {REDIS_URL}: {exc}")
    return _redis_problem[0]


def need_redis() -> None:
    """Skip the test without Redis, or fail it when services are required."""
    problem = redis_problem()
    if problem is not None:
        if services_required():
            pytest.fail(f"{problem} (FLUNQ_REQUIRE_SERVICES=1)")
        pytest.skip(problem)


async def delete_redis_keys(prefix: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    finally:
        await client.aclose()


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(store_backend: str, tmp_path: Path) -> str:
    if store_backend == "memory":
        return "memory://"
    if store_backend == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    need_redis()
    sep = "&" if "?" in REDIS_URL else "?"
    return f"{REDIS_URL}{sep}prefix=flunqtest-{uuid.uuid4().hex}"


@pytest.fixture
async def store_factory(store_backend: str, store_url: str) -> AsyncIterator[StoreFactory]:
    opened: list[Store] = []

    async def open_(**options: Any) -> Store:
        store = open_store(store_url, **options)
        await store.start()
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()
    if store_backend == "redis":
        await delete_redis_keys(store_url.rpartition("prefix=")[2])


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    return await store_factory()


# -- builders ------------------------------------------------------------------------

T = "acme"
OTHER = "globex"
DAY = "2026-01-01T00:00:00.000000Z"


def at(minute: int) -> str:
    return f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00.000000Z"


def definition(version: str, source: str | None = None, **kw: Any) -> DefinitionRecord:
    fields: dict[str, Any] = {"tenant": T, "namespace": "default", "name": "order"} | kw
    return DefinitionRecord(
        version=version, source=source or f"doc {version}", created_at=DAY, **fields
    )


def record(eid: str, **kw: Any) -> ExecutionRecord:
    fields: dict[str, Any] = {
        "tenant": T,
        "namespace": "default",
        "name": "order",
        "version": "1.0.0",
        "status": "pending",
        "created_at": DAY,
        "updated_at": DAY,
        "seq": 1,
    } | kw
    return ExecutionRecord(id=eid, **fields)


def entry(seq: int, data: Any = None) -> JournalEntry:
    return JournalEntry(seq=seq, kind="fact", type="effect.completed", at=DAY, data=data)


async def create(store: Store, eid: str, **kw: Any) -> ExecutionRecord:
    rec, created = await store.create_execution(record(eid, **kw), entry(1, {"input": eid}))
    assert created
    return rec


def step(rec: ExecutionRecord, n: int = 1, *, expected: int | None = None, **kw: Any) -> Commit:
    """A commit appending ``n`` entries after ``rec.seq`` (or after ``expected``)."""
    base = rec.seq if expected is None else expected
    changes: dict[str, Any] = {"status": "running", **kw.pop("record", {})}
    new = msgspec.structs.replace(rec, seq=base + n, **changes)
    entries = [entry(base + i + 1, {"n": base + i + 1}) for i in range(n)]
    return Commit(record=new, expected_seq=base, entries=entries, **kw)


def timer(eid: str, timer_id: str, due: float, tenant: str = T) -> Timer:
    return Timer(tenant=tenant, execution_id=eid, timer_id=timer_id, due=due)


def listener(eid: str, lid: str, tenant: str = T) -> ListenerRecord:
    return ListenerRecord(
        tenant=tenant,
        execution_id=eid,
        listener_id=lid,
        filters=[{"with": {"type": "com.example.paid"}}],
        created_at=DAY,
    )


async def seqs(store: Store, eid: str, tenant: str = T) -> list[int]:
    return [e.seq for e in await store.read_journal(tenant, eid)]
