"""Throughput and latency of the whole engine (issue: durable runtime).

For each backend (embedded: SQLite + in-process bus; Redis: Redis store + Redis Streams),
runs the worker, executor and timer roles in this process and drives them through the
engine's own start/wait calls with a fixed number of concurrent clients:

- a 10-task ``set`` chain (pure: one commit per execution);
- a 10-step chain of ``call: http`` GETs to a local server (``bench/httpserver.py``, in its
  own process): one bus round trip per step.

Prints executions/s, steps/s, start-to-finish latency percentiles, and for Redis the
Redis commands per step (``INFO commandstats``). The baseline, measured in the same run,
is the same number of GETs made directly with httpx at the same concurrency (no engine):
``steps/s vs raw`` says what share of the raw HTTP rate the engine keeps.

Usage: ``python bench/bench_runtime.py [--executions N] [--concurrency C] [--redis URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flunq.runtime import Runtime
from flunq.settings import Settings

SET_CHAIN = """
document: {dsl: '1.0.3', namespace: bench, name: sets, version: '1.0.0'}
do:
""" + "".join(f"  - s{i}: {{set: {{n: '${{ (.n // 0) + 1 }}'}}}}\n" for i in range(10))

HTTP_CHAIN = """
document: {dsl: '1.0.3', namespace: bench, name: calls, version: '1.0.0'}
do:
""" + "".join(
    f"  - c{i}: {{call: http, with: {{method: get, endpoint: 'http://127.0.0.1:{{port}}/step/{i}'}}}}\n"
    for i in range(10)
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.50) * 1000, pick(0.95) * 1000, pick(0.99) * 1000


class Cluster:
    """The roles in subprocesses (``flunq serve --roles ...``) on a shared Redis."""

    def __init__(self, url: str, groups: list[str]) -> None:
        env = {**os.environ, "FLUNQ_STORE": url, "FLUNQ_BUS": url, "FLUNQ_LOG_LEVEL": "warning"}
        self.procs = [
            subprocess.Popen([sys.executable, "-m", "flunq.cli", "serve", "--roles", roles], env=env)
            for roles in groups
        ]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)


async def drive(settings: Settings, source: str, name: str, executions: int, concurrency: int,
                split: list[str] | None = None) -> dict:
    """Run ``executions`` of the workflow with ``concurrency`` clients; the roles run in this
    process, or in subprocesses when ``split`` lists their role groups."""
    cluster = Cluster(settings.store, split) if split else None
    runtime = Runtime(settings if not split else settings.with_(roles=("api",)))
    if split:
        from flunq.bus import open_bus
        from flunq.engine import Engine
        from flunq.store import open_store

        engine = Engine(open_store(settings.store), open_bus(settings.bus))
        await engine.store.start()
        await engine.bus.start()
    else:
        task = asyncio.create_task(runtime.run())
        await runtime.started.wait()
        assert runtime.engine is not None
        engine = runtime.engine
    tenant = "bench"
    await engine.register(tenant, source)
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(record_it: bool = True) -> None:
        async with gate:
            began = time.perf_counter()
            record, _ = await engine.start(tenant, "bench", name, {})
            record = await engine.wait(tenant, record.id, 120)
            if record.status != "completed":
                raise RuntimeError(f"execution ended {record.status}: {record.error}")
            if record_it:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(one(False) for _ in range(min(concurrency, 8))))  # warm up (and wait for subprocesses)
    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(executions)))
    elapsed = time.perf_counter() - began
    if cluster is not None:
        cluster.stop()
        await engine.bus.close()
        await engine.store.close()
    else:
        runtime.stop()
        await task
    p50, p95, p99 = percentiles(latencies)
    return {"exec/s": executions / elapsed, "steps/s": executions * 10 / elapsed, "p50": p50, "p95": p95, "p99": p99}


async def raw_http(port: int, requests: int, concurrency: int) -> float:
    from flunq.effects.client import Request
    from flunq.effects.lean import LeanTransport

    client = LeanTransport()
    gate = asyncio.Semaphore(concurrency)

    async def chain() -> None:
        async with gate:
            for i in range(10):
                (await client.exchange(Request("GET", f"http://127.0.0.1:{port}/step/{i}"))).json()

    try:
        began = time.perf_counter()
        await asyncio.gather(*(chain() for _ in range(requests // 10)))
        return requests / (time.perf_counter() - began)
    finally:
        await client.aclose()


def redis_calls(url: str) -> dict[str, int]:
    """Commands Redis ran so far, by name (commands run inside Lua scripts included)."""
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return {k: v["calls"] for k, v in stats.items() if k.startswith("cmdstat_")}


def report(label: str, row: dict, extra: str = "") -> None:
    print(f"{label:<48} {row['exec/s']:>9.1f} {row['steps/s']:>9.1f} {row['p50']:>8.1f} {row['p95']:>8.1f} "
          f"{row['p99']:>8.1f}  {extra}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--only", choices=["embedded", "redis"], default=None)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("httpserver.py")), str(port)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    http_chain = HTTP_CHAIN.replace("{port}", str(port))
    try:
        raw = await raw_http(port, args.executions * 10, args.concurrency)
        print(f"baseline: the same GETs through the executor's HTTP client, no engine, same concurrency: {raw:.0f} req/s\n")
        print(f"{'run':<48} {'exec/s':>9} {'steps/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        folder = tempfile.mkdtemp(prefix="flunq-bench-")
        embedded = Settings(roles=("worker", "executor", "timer"), store=f"sqlite:///{folder}/b.db", bus="memory://")
        url = f"{args.redis}?prefix=bench{uuid.uuid4().hex[:8]}"
        redis = Settings(roles=("worker", "executor", "timer"), store=url, bus=url)
        split = ["worker,timer", "executor"]
        runs = []
        if args.only in (None, "embedded"):
            runs.append(("embedded", embedded, None, None))
        if args.only in (None, "redis"):
            runs.append(("redis, one process", redis, args.redis, None))
            runs.append(("redis, worker+executor processes", redis, args.redis, split))
        for label, settings, redis_url, groups in runs:
            for name, source in (("sets", SET_CHAIN), ("calls", http_chain)):
                before = redis_calls(redis_url) if redis_url else {}
                row = await drive(settings, source, name, args.executions, args.concurrency, groups)
                extra = f"steps/s vs raw: {row['steps/s'] / raw:.2f}" if name == "calls" else ""
                if redis_url:
                    after = redis_calls(redis_url)
                    steps = (args.executions + min(args.concurrency, 8)) * 10
                    total = sum(after.values()) - sum(before.values())
                    evals = after.get("cmdstat_evalsha", 0) - before.get("cmdstat_evalsha", 0)
                    extra += f"  redis cmds/step {total / steps:.1f} (EVALSHA {evals / steps:.2f})"
                report(f"{label}: {name}", row, extra)
            if groups is None:
                row = await drive(settings, http_chain, "calls", 50, 1)
                report(f"{label}: calls, one at a time", row, f"per step p50 {row['p50'] / 10:.2f} ms")
        print("\nreference (measured elsewhere on this kind of machine, 10 sequential GETs): "
              "Celery 5.7/Redis ~850 steps/s p99 26 ms; DBOS 3.4/SQLite ~440 steps/s p99 31 ms")
    finally:
        server.terminate()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main())
