"""Roles split over five processes on a private Redis (store and bus): api, two workers,
an executor and a timer. A process is SIGKILLed while it holds unacked messages; the
others (or its replacement) take them over (redelivery, timer leases, the sweeper) and
every execution completes, exactly once."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.e2e.support import (
    Api,
    EffectServer,
    FlunqProcess,
    RedisServer,
    free_port,
    running,
    wait_for,
)
from tests.e2e.workload import Workload

pytestmark = pytest.mark.slow

MIX = {"chain": 40, "waits": 30, "retries": 15, "loop": 15}
TOTAL = sum(MIX.values())
# The kill comes once this many executions ended, while the chains still keep the
# executor and the workers busy.
EARLY = TOTAL * 15 // 100
RECOVERY = {"redeliver_after": "1.5", "stale_after": "3", "sweep_interval": "1", "timer_lease": "2"}


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


def start_workload(procs: dict[str, FlunqProcess], server: EffectServer, mix: dict[str, int]) -> Workload:
    """Start every process, then the executions of ``mix``."""
    for proc in procs.values():
        proc.start()
    for proc in procs.values():
        proc.wait_ready()
    work = Workload(Api(procs["api"].url or ""), server)
    work.register(tuple(mix))
    work.start(mix)
    return work


def all_alive(procs: Iterable[FlunqProcess]) -> None:
    for proc in procs:
        proc.assert_alive()


class ConsumerGroup:
    """A consumer group of one bus topic (``work``/``workers``, ``effects``/``executors``),
    seen from a plain Redis client."""

    def __init__(self, redis_server: RedisServer, topic: str, group: str) -> None:
        self.client = redis.Redis(port=redis_server.port, decode_responses=True)
        self.stream = f"split:{topic}"
        self.group = group

    def close(self) -> None:
        self.client.close()

    def consumer_of(self, proc: FlunqProcess) -> str | None:
        """The consumer name of a process (it embeds the pid)."""
        assert proc.popen is not None
        mark = f"-{proc.popen.pid}-"
        try:
            names = [c["name"] for c in self.client.xinfo_consumers(self.stream, self.group)]
        except redis.ResponseError:  # no such stream or group yet
            return None
        return next((name for name in names if mark in name), None)

    def pending(self, consumer: str) -> int:
        return len(self.client.xpending_range(self.stream, self.group, "-", "+", 10_000, consumername=consumer))


def kill_holding_work(victim: FlunqProcess, group: ConsumerGroup, consumer: str) -> int:
    """SIGKILL ``victim`` at a moment it holds unacked messages (it is frozen with SIGSTOP
    until one such moment is caught); returns how many it held."""
    def frozen_with_work() -> int | None:
        victim.signal(signal.SIGSTOP)
        held = group.pending(consumer)
        if held:
            return held
        victim.signal(signal.SIGCONT)
        return None

    held = wait_for("the victim to hold unacked work", frozen_with_work, timeout=20, interval=0.003)
    victim.kill()
    return held


def test_a_worker_killed_mid_flight_loses_nothing(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    procs = cluster(tmp_path, redis_server, RECOVERY)
    with running(procs.values()):
        work = start_workload(procs, effect_server, MIX)
        api = work.api

        victim, group = procs["worker1"], ConsumerGroup(redis_server, "work", "workers")
        consumer = wait_for("worker1 to read the work stream", lambda: group.consumer_of(victim), timeout=10)
        wait_for(f"{EARLY} executions to end", lambda: work.count_ended(EARLY) >= EARLY, timeout=30, interval=0.1)
        assert kill_holding_work(victim, group, consumer) > 0

        survivors = [p for name, p in procs.items() if name != "worker1"]
        records = api.wait_all_ended(work.ids, timeout=45, alive=lambda: all_alive(survivors))
        work.verify(records)
        # What the dead worker held was handed to the other one (XAUTOCLAIM) and acked.
        wait_for("the dead worker's messages to be claimed", lambda: group.pending(consumer) == 0, timeout=10)
        group.close()
        api.close()


def test_executor_and_timer_killed_mid_flight_then_replaced_lose_nothing(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    procs = cluster(tmp_path, redis_server, RECOVERY)
    executor, timer = procs["executor"], procs["timer"]
    with running(procs.values()):
        work = start_workload(procs, effect_server, MIX)
        api = work.api

        group = ConsumerGroup(redis_server, "effects", "executors")
        consumer = wait_for("the executor to read the effects", lambda: group.consumer_of(executor), timeout=10)
        wait_for(f"{EARLY} executions to end", lambda: work.count_ended(EARLY) >= EARLY, timeout=30, interval=0.1)
        assert kill_holding_work(executor, group, consumer) > 0
        timer.kill()  # with claimed timers whose firing may be lost: their lease runs out
        executor.start().wait_ready()
        timer.start().wait_ready()

        records = api.wait_all_ended(work.ids, timeout=45, alive=lambda: all_alive(procs.values()))
        work.verify(records)
        wait_for("the dead executor's effects to be claimed", lambda: group.pending(consumer) == 0, timeout=10)
        group.close()
        api.close()


def test_two_workers_without_any_crash_apply_every_result(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    # Default settings: the sweeper does not re-drive within the test, so a dropped result stays lost.
    procs = cluster(tmp_path, redis_server, {})
    with running(procs.values()):
        work = start_workload(procs, effect_server, {"chain": 30})
        api = work.api
        records = api.wait_all_ended(work.ids, timeout=10)
        work.verify(records)
        api.close()
