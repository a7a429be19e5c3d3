"""Requests per second of the effects' HTTP client against httpx, on the same local server.

Starts ``bench/httpserver.py`` in its own process, then, with 1 and 64 requests in flight,
times GETs through:

- ``lean``: :class:`flunq.effects.lean.LeanTransport` (one exchange per request);
- ``httpx``: ``httpx.AsyncClient`` with its default transport;
- ``call: http``: the whole effect (``perform`` on an ``http`` command: request
  building, the lean transport, JSON decoding of the answer).

Usage: ``python bench/bench_http_client.py [--requests N] [--port PORT]``. Each run is
bounded by ``--requests`` (default 20,000) and sends traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from flunq.effects import EffectContext, perform
from flunq.effects.client import Request
from flunq.effects.lean import LeanTransport
from flunq.interpreter.protocol import Perform

SERVER = Path(__file__).resolve().parent / "httpserver.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, str(SERVER), str(port)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        server.kill()
        raise RuntimeError("the benchmark server did not start")
    return server


async def rate(one: Callable[[int], Awaitable[object]], requests: int, in_flight: int) -> float:
    """Requests per second with ``in_flight`` workers sharing ``requests`` requests."""
    per_worker = requests // in_flight

    async def worker(w: int) -> None:
        for i in range(per_worker):
            await one(w * per_worker + i)

    await asyncio.gather(*(worker(w) for w in range(in_flight)))  # warm up: connections, caches
    began = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(in_flight)))
    return per_worker * in_flight / (time.perf_counter() - began)


async def bench(port: int, requests: int) -> dict[tuple[str, int], float]:
    base = f"http://127.0.0.1:{port}"
    results: dict[tuple[str, int], float] = {}
    lean = LeanTransport()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    client = httpx.AsyncClient(limits=limits)
    ctx = EffectContext()

    async def via_lean(i: int) -> object:
        return (await lean.exchange(Request("GET", f"{base}/step/{i % 10}"))).json()

    async def via_httpx(i: int) -> object:
        return (await client.get(f"{base}/step/{i % 10}")).json()

    async def via_effect(i: int) -> object:
        args = {"method": "get", "uri": f"{base}/step/{i % 10}"}
        return await perform(Perform(effect_id="e", kind="http", args=args), ctx)

    try:
        for in_flight in (1, 64):
            count = requests // 4 if in_flight == 1 else requests
            for name, one in (("lean", via_lean), ("httpx", via_httpx), ("call: http", via_effect)):
                results[(name, in_flight)] = await rate(one, count, in_flight)
    finally:
        await lean.aclose()
        await client.aclose()
        await ctx.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    port = options.port or free_port()
    server = start_server(port)
    try:
        results = asyncio.run(bench(port, options.requests))
    finally:
        server.terminate()
        server.wait(5)
    print(f"{'client':<12} {'in flight':>9} {'req/s':>10} {'vs httpx':>9}")
    for (name, in_flight), value in results.items():
        ratio = value / results[("httpx", in_flight)]
        print(f"{name:<12} {in_flight:>9} {value:>10.0f} {ratio:>8.1f}x")


if __name__ == "__main__":
    main()
