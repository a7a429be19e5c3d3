"""The worker's durability rules, checked on the stores directly."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from flunq.bus import open_bus
from flunq.engine import Engine
from flunq.errors import ConcurrencyError
from flunq.interpreter import Env
from flunq.interpreter.protocol import EffectCompleted, TimerFired
from flunq.interpreter.times import now_iso
from flunq.messages import WORK
from flunq.roles.base import Role
from flunq.roles.stepper import StateCache, Stepper
from flunq.roles.worker import GROUP, Worker
from flunq.runtime import RoleFailed, Runtime
from flunq.settings import Settings
from flunq.store import open_store

CALLS = """
document: {dsl: '1.0.3', namespace: demo, name: calls, version: '1.0.0'}
do:
  - first: {call: http, with: {method: get, endpoint: 'https://svc.test/one'}}
  - second: {call: http, with: {method: get, endpoint: 'https://svc.test/two'}}
"""


async def engine_on(url: str) -> Engine:
    store = open_store(url)
    bus = open_bus("memory://")
    await store.start()
    await bus.start()
    return Engine(store, bus)


def stepper(engine: Engine) -> Stepper:
    return Stepper(engine, Env(), StateCache(100))


async def started(engine: Engine) -> str:
    await engine.register("t", CALLS)
    record, _ = await engine.start("t", "demo", "calls", {})
    outcome = await stepper(engine).step("t", record.id, [])
    assert outcome.commit is not None
    await engine.store.commit(outcome.commit)
    assert [e.effect_id for e in outcome.effects] == ["/do/0/first"]
    return record.id


async def test_two_workers_racing_on_one_execution_one_wins_and_the_journal_has_no_gaps(tmp_path) -> None:
    engine = await engine_on(f"sqlite:///{tmp_path}/race.db")
    execution = await started(engine)
    done = EffectCompleted(at=now_iso(), effect_id="/do/0/first", result={"n": 1})
    one, two = stepper(engine), stepper(engine)
    a, b = await asyncio.gather(one.step("t", execution, [done]), two.step("t", execution, [done]))
    assert a.commit is not None and b.commit is not None
    results = await engine.store.commit_many([a.commit, b.commit])
    assert sum(r is None for r in results) == 1
    assert any(isinstance(r, ConcurrencyError) for r in results)
    # The loser reloads: its fact was applied already, so it is ignored and nothing is written.
    loser = one if results[0] is not None else two
    loser.cache = StateCache(100)
    again = await loser.step("t", execution, [done])
    assert again.commit is None
    journal = await engine.store.read_journal("t", execution)
    assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
    assert sum(1 for e in journal if e.type == "effect.completed") == 1
    await engine.store.close()


async def test_a_corrupt_snapshot_falls_back_to_replaying_the_journal(tmp_path) -> None:
    path = tmp_path / "corrupt.db"
    engine = await engine_on(f"sqlite:///{path}")
    execution = await started(engine)
    await engine.store.close()
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        table = next(t for t in tables if "snapshot" in t)
        column = next(c[1] for c in db.execute(f"pragma table_info({table})") if c[2].upper() == "BLOB")
        assert db.execute(f"update {table} set {column} = x'c1c2c3'").rowcount == 1
    engine = await engine_on(f"sqlite:///{path}")
    outcome = await stepper(engine).step(
        "t", execution, [EffectCompleted(at=now_iso(), effect_id="/do/0/first", result={"n": 1})]
    )
    assert outcome.state is not None
    assert [e.effect_id for e in outcome.effects] == ["/do/1/second"]
    assert outcome.commit is not None
    await engine.store.commit(outcome.commit)
    await engine.store.close()


async def test_a_stale_timer_is_deleted_even_though_the_fact_changes_nothing(tmp_path) -> None:
    engine = await engine_on("memory://")
    execution = await started(engine)
    outcome = await stepper(engine).step("t", execution, [TimerFired(at=now_iso(), timer_id="/nope")])
    assert outcome.commit is not None
    assert outcome.commit.entries == []
    assert outcome.commit.timers_cancel == ["/nope"]
    await engine.store.commit(outcome.commit)


async def test_an_undecodable_message_is_dead_lettered_and_the_worker_goes_on() -> None:
    engine = await engine_on("memory://")
    await engine.register("t", CALLS)
    worker = Worker(engine, stepper(engine), consumer="w1")
    await engine.bus.publish(WORK, [b"\x00not msgpack"])
    record, _ = await engine.start("t", "demo", "calls", {})
    messages = await engine.bus.read(WORK, GROUP, "w1", count=10, block=0.1)
    await worker.process(messages)
    dead = await engine.bus.dead_letters(WORK)
    assert len(dead) == 1 and "undecodable" in dead[0].reason
    after = await engine.store.get_execution("t", record.id)
    assert after.status == "running"


async def test_a_message_for_an_unknown_execution_is_dead_lettered() -> None:
    from flunq.messages import WorkItem, encode

    engine = await engine_on("memory://")
    worker = Worker(engine, stepper(engine), consumer="w1")
    await engine.bus.publish(WORK, [encode(WorkItem(tenant="t", execution_id="missing"))])
    await worker.process(await engine.bus.read(WORK, GROUP, "w1", count=10, block=0.1))
    dead = await engine.bus.dead_letters(WORK)
    assert len(dead) == 1 and "missing" in dead[0].reason


class Exploding(Role):
    name = "exploding"

    async def run(self) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom")


async def test_a_role_that_dies_stops_the_whole_process(tmp_path, monkeypatch) -> None:
    runtime = Runtime(Settings(store="memory://", bus="memory://", roles=("worker", "timer")))
    original = runtime._roles

    def with_bomb(engine, context):  # type: ignore[no-untyped-def]
        return [*original(engine, context), Exploding()]

    monkeypatch.setattr(runtime, "_roles", with_bomb)
    with pytest.raises(RoleFailed, match="exploding"):
        await asyncio.wait_for(runtime.run(), 15)
    assert all(role.stopping for role in runtime.roles)
