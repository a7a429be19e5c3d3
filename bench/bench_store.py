"""Commits per second of the store backends: one writer vs 200 concurrent executions.

    python bench/bench_store.py [--seconds 1.5] [--redis redis://127.0.0.1:6379/0]

(a) *sequential*: one execution commits step after step, each awaited before the next (the
latency-bound baseline); (b) *grouped*: 200 executions commit at the same time, so the
store can group them (one SQLite transaction, one Redis pipeline per group). Both are
measured in the same run and the ratio b/a is printed. Each commit appends two journal
entries and replaces a 1 KiB snapshot and the index row, like a worker step. Redis is
skipped when it cannot be reached. Takes about 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid

import msgspec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from flunq.errors import BackendUnavailable
from flunq.store import Store, open_store
from flunq.store.base import Commit, ExecutionRecord, JournalEntry

NOW = "2026-01-01T00:00:00.000000Z"
SNAPSHOT = os.urandom(1024)
CONCURRENCY = 200


def _entry(seq: int) -> JournalEntry:
    return JournalEntry(seq=seq, kind="fact", type="effect.completed", at=NOW, data={"n": seq})


async def _create(store: Store, eid: str) -> ExecutionRecord:
    rec = ExecutionRecord(
        tenant="bench",
        id=eid,
        namespace="default",
        name="bench",
        version="1.0.0",
        status="running",
        created_at=NOW,
        updated_at=NOW,
        seq=1,
    )
    created, _ = await store.create_execution(rec, _entry(1))
    return created


async def _drive(store: Store, rec: ExecutionRecord, deadline: float) -> int:
    """Commit steps to one execution until the deadline; returns how many."""
    done = 0
    while time.perf_counter() < deadline:
        seq = rec.seq
        rec = msgspec.structs.replace(rec, seq=seq + 2)
        await store.commit(
            Commit(
                record=rec,
                expected_seq=seq,
                entries=[_entry(seq + 1), _entry(seq + 2)],
                snapshot=SNAPSHOT,
            )
        )
        done += 1
    return done


async def _rate(store: Store, recs: list[ExecutionRecord], seconds: float) -> float:
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(*(_drive(store, r, deadline) for r in recs))
    return sum(counts) / (time.perf_counter() - start)


def _groups(store: Store) -> tuple[int, int]:
    stats = getattr(store, "group_stats", None)
    return stats() if stats is not None else (0, 0)


async def bench(label: str, url: str, seconds: float) -> None:
    store = open_store(url)
    try:
        await store.start()
    except BackendUnavailable as exc:
        print(f"{label:<22} skipped: {exc}")
        return
    try:
        recs = [await _create(store, f"e{i}") for i in range(CONCURRENCY + 1)]
        sequential = await _rate(store, recs[:1], seconds)
        g0 = _groups(store)
        grouped = await _rate(store, recs[1:], seconds)
        groups, items = (a - b for a, b in zip(_groups(store), g0, strict=True))
        per_group = f"{items / groups:6.1f} commits/group" if groups else ""
        print(
            f"{label:<22} sequential {sequential:9.0f}/s   grouped({CONCURRENCY}) "
            f"{grouped:9.0f}/s   ratio {grouped / sequential:5.1f}x   {per_group}"
        )
    finally:
        await store.close()


async def _cleanup_redis(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    except Exception:
        pass
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await bench("sqlite (normal)", f"sqlite:///{tmp}/normal.db", args.seconds)
        await bench("sqlite (full)", f"sqlite:///{tmp}/full.db?synchronous=full", args.seconds)
    prefix = f"flunqbench-{uuid.uuid4().hex}"
    try:
        await bench("redis", f"{args.redis}?prefix={prefix}", args.seconds)
    finally:
        await _cleanup_redis(args.redis, prefix)


if __name__ == "__main__":
    asyncio.run(main())
