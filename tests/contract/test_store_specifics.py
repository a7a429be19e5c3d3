"""What only one store backend (or the URL registry) does: options, group commit, Redis
reconnects and lost scripts. The shared contract is in ``test_store_contract.py``."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from flunq.errors import BackendUnavailable, ConcurrencyError, ConfigError, StoreError
from flunq.store import open_store
from flunq.store import redis as redis_store
from flunq.store.redis import RedisStore
from flunq.store.redis_scripts import Script
from flunq.store.sqlite import SQLiteStore

try:  # fixtures and builders; the import path depends on whether tests/contract is a package
    from .store_backends import (
        REDIS_URL,
        T,
        create,
        delete_redis_keys,
        entry,
        need_redis,
        record,
        seqs,
        step,
    )
except ImportError:
    from store_backends import (  # type: ignore[no-redef]
        REDIS_URL,
        T,
        create,
        delete_redis_keys,
        entry,
        need_redis,
        record,
        seqs,
        step,
    )

# -- registry ----------------------------------------------------------------------------


def test_unknown_scheme_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as info:
        open_store("postgres://admin:hunter2@db/flunq")
    msg = str(info.value)
    assert all(s in msg for s in ("memory://", "sqlite://", "redis://"))
    assert "hunter2" not in msg  # never echo a password
    with pytest.raises(ConfigError):
        open_store("flunq.db")


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_store("sqlite://:memory:")
    with pytest.raises(ConfigError):
        open_store(f"sqlite:///{tmp_path}/x.db?synchronous=sometimes")
    with pytest.raises(ConfigError):
        open_store(f"sqlite:///{tmp_path}/x.db?colour=blue")
    with pytest.raises(ConfigError):
        open_store("memory://", colour="blue")
    with pytest.raises(ConfigError):
        open_store("redis://127.0.0.1:6379/0?prefix=")


def test_urls_choose_backend_and_options(tmp_path: Path) -> None:
    s = open_store("sqlite:///relative/dir/f.db")
    assert isinstance(s, SQLiteStore) and s.path == "relative/dir/f.db"
    s = open_store(f"sqlite:///{tmp_path}/f.db")
    assert isinstance(s, SQLiteStore) and Path(s.path) == tmp_path / "f.db"
    r = open_store("redis://127.0.0.1:6379/3?prefix=acme&socket_keepalive=true")
    assert isinstance(r, RedisStore) and r.prefix == "acme"
    r = open_store("redis://127.0.0.1:6379/0", prefix="x")
    assert isinstance(r, RedisStore) and r.prefix == "x"


# -- sqlite ------------------------------------------------------------------------------


async def test_sqlite_group_commit_and_synchronous_full(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/g.db?synchronous=full")
    assert isinstance(store, SQLiteStore)
    await store.start()
    try:
        recs = [await create(store, f"e{i}") for i in range(100)]
        before = store.group_stats()
        results = await asyncio.gather(*(store.commit(step(r, 1)) for r in recs))
        assert results == [None] * 100
        transactions, ops = (a - b for a, b in zip(store.group_stats(), before, strict=True))
        assert ops == 100 and transactions <= 20  # many commits per transaction
        sync = await store._read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert sync == 2  # FULL
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "g.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT count(*) FROM journal").fetchone()[0] == 200


async def test_sqlite_refuses_calls_when_not_open(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    with pytest.raises(StoreError):
        await store.get_execution(T, "e1")
    await store.start()
    await store.start()  # idempotent
    rec = await create(store, "e1")
    await store.close()
    with pytest.raises(StoreError):
        await store.commit(step(rec, 1))
    with pytest.raises(StoreError):
        await store.get_execution(T, "e1")


# -- redis -------------------------------------------------------------------------------


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    need_redis()
    import uuid

    prefix = f"flunqtest-{uuid.uuid4().hex}"
    yield prefix
    await delete_redis_keys(prefix)


async def test_redis_unreachable_is_backend_unavailable() -> None:
    store = open_store("redis://127.0.0.1:1/0", retries=0, connect_timeout=0.5)
    with pytest.raises(BackendUnavailable):
        await store.start()
    await store.close()


async def test_redis_groups_concurrent_commits_in_one_pipeline(redis_prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    await store.start()
    try:
        recs = [await create(store, f"e{i}") for i in range(100)]
        results = await asyncio.gather(
            *(store.commit(step(r, 1)) for r in recs),
            store.commit(step(recs[0], 1)),  # same execution, same expected seq: loses
            return_exceptions=True,
        )
        assert results[:100] == [None] * 100 and isinstance(results[100], ConcurrencyError)
        assert store.group_stats() == (1, 101)
        assert await seqs(store, "e99") == [1, 2]
    finally:
        await store.close()


async def _kill_clients(name: str) -> int:
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c.get("name") == name]
        for cid in ids:
            await admin.client_kill_filter(_id=cid)
        return len(ids)
    finally:
        await admin.aclose()


async def test_redis_survives_killed_connections(redis_prefix: str) -> None:
    name = f"{redis_prefix}-client"  # kill only this test's connections
    store = RedisStore(REDIS_URL, prefix=redis_prefix, client_name=name)
    await store.start()
    try:
        rec = await create(store, "e1")
        assert await _kill_clients(name) >= 1
        # the next call may see the drop; if so, it must say it in Flunq's terms
        with contextlib.suppress(BackendUnavailable):
            await store.commit(step(rec, 1))
        committed = await seqs(store, "e1")
        expected = len(committed)
        await store.commit(step(rec, 1, expected=expected))
        assert await seqs(store, "e1") == list(range(1, expected + 2))
        assert await _kill_clients(name) >= 1
        await store.get_execution(T, "e1")  # redis-py reconnects and retries
    finally:
        await store.close()


async def test_redis_reloads_scripts_the_server_lost(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    await store.start()
    try:
        rec = await create(store, "e1")
        # Scripts the server never saw, as after a restart or SCRIPT FLUSH (a flush would
        # disturb everyone else using this Redis).
        scripts = dict(redis_store._SCRIPTS)
        for name in ("commit", "load"):
            scripts[name] = Script(scripts[name].body + f"\n-- {redis_prefix}\n")
        monkeypatch.setattr(redis_store, "_SCRIPTS", scripts)
        await store.commit(step(rec, 1))  # pipelined path
        assert (await store.load(T, "e1")).record.seq == 2  # single-call path
        results = await store.commit_many([step(rec, 1, expected=2)])
        assert results == [None]
    finally:
        await store.close()


class _Proxy:
    """A TCP proxy to Redis that can go away and come back, like a restarting server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def test_redis_works_again_after_the_server_comes_back(redis_prefix: str) -> None:
    proxy = _Proxy(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}/0"
    store = RedisStore(url, prefix=redis_prefix, retries=1, connect_timeout=0.5)
    await store.start()
    try:
        rec = await create(store, "e1")
        await proxy.stop()
        with pytest.raises(BackendUnavailable):
            await store.get_execution(T, "e1")
        with pytest.raises(BackendUnavailable):
            await store.commit(step(rec, 1))
        with pytest.raises(BackendUnavailable):
            await store.create_execution(record("e2"), entry(1))
        await proxy.start()
        assert (await store.get_execution(T, "e1")).seq == 1
        await store.commit(step(rec, 1))
        assert await seqs(store, "e1") == [1, 2]
    finally:
        await store.close()
        await proxy.stop()
