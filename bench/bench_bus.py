"""Bus throughput: publish + read + ack round trips, in messages per second.

For each backend, one producer/consumer pair moves messages through a topic in batches
of 1 (the baseline, measured in the same run) and of 100, and the ratio between the two
is printed. Each case runs for a fixed time budget, so the whole run stays under ~20 s.

    python bench/bench_bus.py [--redis redis://127.0.0.1:6379/0] [--seconds 1.5]

Redis is skipped (with a note) when it cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import redis.asyncio as aioredis

from flunq.bus import Bus, open_bus
from flunq.errors import BackendUnavailable

PAYLOAD = b"x" * 200  # about the size of a small command message
BATCHES = (1, 100)


async def round_trip(bus: Bus, topic: str, batch: int) -> int:
    """Publish ``batch`` messages, then read and ack them all; returns how many moved."""
    await bus.publish(topic, [PAYLOAD] * batch)
    moved = 0
    while moved < batch:
        messages = await bus.read(topic, "bench", "c1", count=batch, block=1.0)
        if not messages:
            raise RuntimeError("a published message did not come back within 1 s")
        await bus.ack(topic, "bench", [m.id for m in messages])
        moved += len(messages)
    return moved


async def rate(bus: Bus, batch: int, seconds: float) -> float:
    topic = f"bench-{batch}"
    await bus.read(topic, "bench", "c1", block=0)  # create the group outside the timing
    warm_until = time.perf_counter() + min(0.2, seconds / 5)
    while time.perf_counter() < warm_until:
        await round_trip(bus, topic, batch)
    moved = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        moved += await round_trip(bus, topic, batch)
    return moved / elapsed


async def bench_backend(name: str, url: str, seconds: float) -> None:
    bus = open_bus(url)
    try:
        await bus.start()
    except BackendUnavailable as exc:
        print(f"{name:<8} skipped: {exc}")
        return
    try:
        rates = {batch: await rate(bus, batch, seconds) for batch in BATCHES}
    finally:
        await bus.close()
    baseline = rates[BATCHES[0]]
    for batch, value in rates.items():
        print(f"{name:<8} batch {batch:>4}: {value:>10,.0f} msg/s  ({value / baseline:5.1f}x)")


async def cleanup(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    except (OSError, aioredis.RedisError):
        pass  # nothing was written if Redis was not there
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per case")
    args = parser.parse_args()
    print("publish + read + ack round trip; ratio against batch size 1 of the same backend")
    await bench_backend("memory", "memory://", args.seconds)
    prefix = f"flunqbench-{uuid.uuid4().hex[:8]}"
    try:
        await bench_backend("redis", f"{args.redis}?prefix={prefix}", args.seconds)
    finally:
        await cleanup(args.redis, prefix)


if __name__ == "__main__":
    asyncio.run(main())
