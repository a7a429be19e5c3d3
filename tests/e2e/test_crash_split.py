"""Roles split over five processes on a private Redis (store and bus): one of the two
workers is SIGKILLed mid-flight; the other takes over its unacked messages (redelivery)
and every execution completes exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from tests.e2e.support import Api, EffectServer, FlunqProcess, RedisServer, free_port, running, wait_for
from tests.e2e.workload import Workload

pytestmark = pytest.mark.slow

MIX = {"chain": 40, "waits": 30, "retries": 15, "loop": 15}
TOTAL = sum(MIX.values())
RECOVERY = {"redeliver_after": "1.5", "stale_after": "3", "sweep_interval": "1", "timer_lease": "2"}
WORKAROUND = {"state_cache": "0"}


def cluster(tmp_path: Path, redis_server: RedisServer, settings: dict[str, str]) -> dict[str, FlunqProcess]:
    """api, two workers, executor and timer, each its own process, on one Redis."""
    url = redis_server.url("split")
    common: dict[str, Any] = {"store": url, "bus": url, "settings": settings}
    return {
        "api": FlunqProcess("api", tmp_path, port=free_port(), roles="api", **common),
        "worker1": FlunqProcess("worker1", tmp_path, roles="worker", **common),
        "worker2": FlunqProcess("worker2", tmp_path, roles="worker", **common),
        "executor": FlunqProcess("executor", tmp_path, roles="executor", **common),
        "timer": FlunqProcess("timer", tmp_path, roles="timer", **common),
    }


def consumers(redis_server: RedisServer) -> list[str]:
    """Names of the consumers of the workers' group on the work stream."""
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    try:
        return [c["name"] for c in client.xinfo_consumers("split:work", "workers")]
    finally:
        client.close()


def test_a_worker_killed_mid_flight_loses_nothing(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    procs = cluster(tmp_path, redis_server, {**RECOVERY, **WORKAROUND})
    with running(procs.values()):
        for proc in procs.values():
            proc.start()
        for proc in procs.values():
            proc.wait_ready()
        api = Api(procs["api"].url or "")
        work = Workload(api, effect_server)
        work.register(tuple(MIX))
        work.start(MIX)

        victim = procs["worker1"]
        assert victim.popen is not None
        pid = f"-{victim.popen.pid}-"
        wait_for("both workers to read the work stream",
                 lambda: sum(1 for name in consumers(redis_server) if "-" in name) >= 2, timeout=10)
        assert any(pid in name for name in consumers(redis_server))
        third = TOTAL * 3 // 10
        wait_for(f"{third} executions to end", lambda: work.count_ended(third) >= third, timeout=30, interval=0.1)
        victim.kill()

        survivors = [p for name, p in procs.items() if name != "worker1"]

        def still_alive() -> None:
            for proc in survivors:
                proc.assert_alive()

        records = api.wait_all_ended(work.ids, timeout=45, alive=still_alive)
        work.verify(records)
        api.close()
