"""The bus contract (flunq/bus/base.py), run against every backend.

Timing-based cases use ``redeliver_after=0.2`` s and sleep just past it, so the suite
stays fast; the fixtures live in ``bus_backends.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from flunq.bus import Bus, Message, open_bus
from flunq.bus.base import DeadLetter
from flunq.errors import BackendUnavailable, BusError, ConfigError

try:  # fixtures; the import path depends on whether tests/ is a package
    from .bus_backends import MakeBus, backend, bus, make_bus, prefix, redis_admin
except ImportError:
    from bus_backends import MakeBus, backend, bus, make_bus, prefix, redis_admin  # type: ignore[no-redef]

__all__ = ["backend", "bus", "make_bus", "prefix", "redis_admin"]  # pytest finds them here

REDELIVER = 0.2
PAST_DUE = REDELIVER + 0.1


async def read_all(bus: Bus, topic: str, group: str, consumer: str, **kw: float) -> list[Message]:
    """Everything readable now, in batches, without acking."""
    out: list[Message] = []
    while batch := await bus.read(topic, group, consumer, block=0, **kw):  # type: ignore[arg-type]
        out += batch
    return out


# -- order, groups, acks -------------------------------------------------------------------


async def test_publish_then_read_in_order(bus: Bus) -> None:
    bodies = [f"m{i}".encode() for i in range(5)]
    await bus.publish("t", bodies)
    got = await bus.read("t", "g", "c1", count=10, block=1)
    assert [m.body for m in got] == bodies
    assert len({m.id for m in got}) == 5
    assert all(m.topic == "t" and m.deliveries == 1 for m in got)
    assert await bus.read("t", "g", "c1", block=0) == []


async def test_publish_nothing_is_a_no_op(bus: Bus) -> None:
    await bus.publish("t", [])
    assert await bus.read("t", "g", "c1", block=0) == []


async def test_each_message_to_one_consumer_of_a_group_and_to_every_group(bus: Bus) -> None:
    bodies = [str(i).encode() for i in range(10)]
    assert await bus.read("t", "g2", "c1", block=0) == []  # g2 exists before the publish
    await bus.publish("t", bodies)
    first = await bus.read("t", "g1", "c1", count=4, block=1)
    second = await read_all(bus, "t", "g1", "c2")
    assert len(first) == 4
    assert sorted(m.body for m in first + second) == sorted(bodies)
    assert not {m.id for m in first} & {m.id for m in second}
    other_group = await read_all(bus, "t", "g2", "c1")
    assert [m.body for m in other_group] == bodies


async def test_group_created_later_gets_earlier_messages(bus: Bus) -> None:
    await bus.publish("t", [b"early"])
    assert [m.body for m in await bus.read("t", "late", "c", block=1)] == [b"early"]


async def test_topics_are_separate(bus: Bus) -> None:
    await bus.publish("a", [b"for-a"])
    await bus.publish("b", [b"for-b"])
    assert [m.body for m in await bus.read("b", "g", "c", block=1)] == [b"for-b"]
    assert [m.body for m in await bus.read("a", "g", "c", block=1)] == [b"for-a"]


async def test_count_limits_each_read(bus: Bus) -> None:
    await bus.publish("t", [str(i).encode() for i in range(7)])
    sizes = [len(await bus.read("t", "g", "c", count=3, block=0)) for _ in range(4)]
    assert sizes == [3, 3, 1, 0]


async def test_ack_stops_redelivery_and_is_idempotent(bus: Bus) -> None:
    await bus.publish("t", [b"x", b"y"])
    got = await bus.read("t", "g", "c1", block=1)
    await bus.ack("t", "g", [m.id for m in got])
    await bus.ack("t", "g", [m.id for m in got])  # twice: harmless
    await bus.ack("t", "g", [])
    await bus.ack("t", "nobody", [got[0].id])  # a group that never read: harmless
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c2", block=0.1) == []


async def test_unacked_message_goes_to_another_consumer_after_redeliver_after(
    bus: Bus,
) -> None:
    await bus.publish("t", [b"job"])
    (first,) = await bus.read("t", "g", "c1", block=1)
    assert await bus.read("t", "g", "c2", block=0) == []  # not due yet
    await asyncio.sleep(PAST_DUE)
    (again,) = await bus.read("t", "g", "c2", block=1)
    assert (again.id, again.body, again.deliveries) == (first.id, b"job", 2)
    await bus.ack("t", "g", [again.id])
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c3", block=0.1) == []


async def test_blocked_read_picks_up_a_redelivery(bus: Bus) -> None:
    await bus.publish("t", [b"job"])
    (first,) = await bus.read("t", "g", "c1", block=1)
    started = time.monotonic()
    (again,) = await bus.read("t", "g", "c2", block=3)
    assert again.id == first.id and again.deliveries == 2
    assert time.monotonic() - started < 1.5


async def test_due_redeliveries_come_before_new_messages(bus: Bus) -> None:
    await bus.publish("t", [b"old"])
    await bus.read("t", "g", "c1", block=1)
    await asyncio.sleep(PAST_DUE)
    await bus.publish("t", [b"new"])
    got = await bus.read("t", "g", "c2", count=10, block=1)
    assert [(m.body, m.deliveries) for m in got] == [(b"old", 2), (b"new", 1)]


# -- dead letters ----------------------------------------------------------------------------


async def test_dead_letter_after_max_deliveries(make_bus: MakeBus) -> None:
    bus = await make_bus(redeliver_after=REDELIVER, max_deliveries=2)
    await bus.publish("t", [b"poison", b"fine"])
    got = await bus.read("t", "g", "c1", block=1)
    await bus.ack("t", "g", [m.id for m in got if m.body == b"fine"])
    poison = next(m for m in got if m.body == b"poison")
    await asyncio.sleep(PAST_DUE)
    (second,) = await bus.read("t", "g", "c2", block=1)
    assert second.deliveries == 2
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c3", block=0.1) == []  # handed out twice already
    (letter,) = await bus.dead_letters("t")
    assert (letter.id, letter.topic, letter.body, letter.deliveries) == (
        poison.id,
        "t",
        b"poison",
        2,
    )
    assert "2" in letter.reason and letter.at.startswith("20")
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c3", block=0) == []


async def test_explicit_dead_letter(bus: Bus) -> None:
    await bus.publish("t", [b"garbage", b"ok"])
    garbage, ok = await bus.read("t", "g", "c1", block=1)
    await bus.dead_letter("t", "g", garbage, "cannot decode: bad json")
    await bus.ack("t", "g", [ok.id])
    letters = await bus.dead_letters("t")
    assert letters == [
        DeadLetter(
            id=garbage.id,
            topic="t",
            body=b"garbage",
            deliveries=1,
            reason="cannot decode: bad json",
            at=letters[0].at,
        )
    ]
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c2", block=0) == []  # dead-lettering acked it
    assert await bus.dead_letters("other") == []


async def test_dead_letters_oldest_first_and_limited(bus: Bus) -> None:
    await bus.publish("t", [b"a", b"b", b"c"])
    for message in await bus.read("t", "g", "c", block=1):
        await bus.dead_letter("t", "g", message, f"bad {message.body.decode()}")
    assert [d.body for d in await bus.dead_letters("t")] == [b"a", b"b", b"c"]
    assert [d.reason for d in await bus.dead_letters("t", limit=2)] == ["bad a", "bad b"]


# -- blocking --------------------------------------------------------------------------------


async def test_read_blocks_then_returns_empty(bus: Bus) -> None:
    started = time.monotonic()
    assert await bus.read("t", "g", "c", block=0.3) == []
    assert 0.25 <= time.monotonic() - started < 2


async def test_blocked_read_returns_promptly_when_a_message_arrives(bus: Bus) -> None:
    reader = asyncio.create_task(bus.read("t", "g", "c", block=5))
    await asyncio.sleep(0.1)
    published = time.monotonic()
    await bus.publish("t", [b"wake"])
    got = await asyncio.wait_for(reader, 2)
    assert [m.body for m in got] == [b"wake"]
    assert time.monotonic() - published < 1


async def test_close_unblocks_readers_and_later_calls_fail(bus: Bus) -> None:
    readers = [asyncio.create_task(bus.read("t", "g", f"c{i}", block=10)) for i in range(2)]
    await asyncio.sleep(0.1)
    closed = time.monotonic()
    await bus.close()
    assert await asyncio.wait_for(asyncio.gather(*readers), 2) == [[], []]
    assert time.monotonic() - closed < 1
    await bus.close()  # idempotent
    with pytest.raises(BusError):
        await bus.publish("t", [b"late"])


# -- broadcast -------------------------------------------------------------------------------


async def next_body(subscription: object) -> bytes:
    return await asyncio.wait_for(anext(subscription), 2)  # type: ignore[call-overload]


async def test_broadcast_reaches_current_subscribers_only(bus: Bus) -> None:
    async with bus.subscribe("news") as one, bus.subscribe("news") as two:
        await bus.broadcast("news", b"first")
        await bus.broadcast("elsewhere", b"not for us")
        assert await next_body(one) == b"first"
        assert await next_body(two) == b"first"
        async with bus.subscribe("news") as late:  # did not hear "first"
            await one.aclose()  # a past subscriber
            await bus.broadcast("news", b"second")
            assert await next_body(late) == b"second"
            assert await next_body(two) == b"second"
        with pytest.raises(StopAsyncIteration):
            await next_body(one)


async def test_plain_async_for_on_a_subscription(bus: Bus) -> None:
    subscription = bus.subscribe("news")
    await subscription.start()
    await bus.broadcast("news", b"a")
    await bus.broadcast("news", b"b")
    got = []
    async for body in subscription:
        got.append(body)
        if len(got) == 2:
            break
    await subscription.aclose()
    assert got == [b"a", b"b"]


async def test_close_ends_subscriptions(bus: Bus) -> None:
    subscription = bus.subscribe("news")
    await subscription.start()
    waiting = asyncio.create_task(next_body(subscription))
    await asyncio.sleep(0.05)
    await bus.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 2)


# -- volume ----------------------------------------------------------------------------------


async def test_large_batch_delivered_exactly_once_when_acked(bus: Bus) -> None:
    bodies = [f"{i:04}".encode() for i in range(1000)]
    await bus.publish("t", bodies)
    seen: Counter[bytes] = Counter()

    async def consume(consumer: str) -> None:
        while batch := await bus.read("t", "g", consumer, count=100, block=0.2):
            seen.update(m.body for m in batch)
            await bus.ack("t", "g", [m.id for m in batch])

    await asyncio.gather(consume("c1"), consume("c2"))
    assert sorted(seen) == bodies and set(seen.values()) == {1}
    await asyncio.sleep(PAST_DUE)
    assert await bus.read("t", "g", "c3", block=0) == []


# -- registry and settings -------------------------------------------------------------------


def test_unknown_scheme_names_supported_ones() -> None:
    with pytest.raises(ConfigError) as info:
        open_bus("kafkaesque://user:secret@host/x")
    assert "memory://" in str(info.value) and "redis://" in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("url", ["memory://", "redis://127.0.0.1:6379/0?prefix=x"])
def test_bad_options_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_bus(url, redeliver_after=0)
    with pytest.raises(ConfigError):
        open_bus(url, max_deliveries=0)
    with pytest.raises(ConfigError):
        open_bus(url, no_such_option=1)


def test_shared_flag() -> None:
    assert open_bus("memory://").shared is False
    redis_bus = open_bus("redis://127.0.0.1:6379/0?prefix=p", redeliver_after=5)
    assert redis_bus.shared is True and redis_bus.redeliver_after == 5


# -- Redis only: a shared server that drops connections and loses data ------------------------

redis_only = pytest.mark.parametrize("backend", ["redis"], indirect=True)


async def kill_own_connections(admin: Any, name: str) -> int:
    """Drop the bus's connections only (CLIENT KILL TYPE normal would also cut the
    connections of everyone else using this Redis)."""
    killed = 0
    for client in await admin.client_list():
        if client.get("name") == name:
            killed += await admin.client_kill_filter(_id=client["id"])
    return killed


@redis_only
async def test_redis_survives_dropped_connections(
    make_bus: MakeBus, redis_admin: Any, prefix: str
) -> None:
    bus = await make_bus(redeliver_after=REDELIVER)
    async with bus.subscribe("news") as subscription:
        await bus.publish("t", [b"before"])
        assert [m.body for m in await bus.read("t", "g", "c", block=1)] == [b"before"]
        blocked = asyncio.create_task(bus.read("t", "g", "c", block=3))
        await asyncio.sleep(0.1)
        assert await kill_own_connections(redis_admin, prefix) >= 2  # reader + pub/sub
        await bus.publish("t", [b"after"])
        assert [m.body for m in await asyncio.wait_for(blocked, 4)] == [b"after"]
        await kill_own_connections(redis_admin, prefix)
        await bus.publish("t", [b"again"])
        assert [m.body for m in await bus.read("t", "g", "c", block=1)] == [b"again"]
        # Broadcasts are not kept: the ones sent before the subscription is back are
        # lost, so keep sending until one gets through.
        for _ in range(30):
            await bus.broadcast("news", b"ping")
            try:
                assert await asyncio.wait_for(anext(subscription), 0.1) == b"ping"
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the subscription did not come back after its connection dropped")


@redis_only
async def test_redis_recreates_a_lost_stream_and_its_group(
    make_bus: MakeBus, redis_admin: Any, prefix: str
) -> None:
    bus = await make_bus(redeliver_after=REDELIVER)
    stream = f"{prefix}:t"
    await bus.publish("t", [b"one"])
    (one,) = await bus.read("t", "g", "c", block=1)
    await bus.ack("t", "g", [one.id])
    await redis_admin.delete(stream)  # the server lost its data
    await bus.publish("t", [b"two"])
    assert [m.body for m in await bus.read("t", "g", "c", block=1)] == [b"two"]
    assert [g["name"] for g in await redis_admin.xinfo_groups(stream)] == [b"g"]
    # A read blocked while the stream vanishes carries on as well.
    blocked = asyncio.create_task(bus.read("t", "g", "c", block=3))
    await asyncio.sleep(0.1)
    await redis_admin.delete(stream)
    await asyncio.sleep(0.1)
    await bus.publish("t", [b"three"])
    assert [m.body for m in await asyncio.wait_for(blocked, 4)] == [b"three"]
    await redis_admin.xgroup_destroy(stream, "g")  # or just the group
    await bus.publish("t", [b"four"])
    assert b"four" in [m.body for m in await bus.read("t", "g", "c", block=1)]


@redis_only
async def test_redis_instances_share_topics_and_broadcasts(make_bus: MakeBus) -> None:
    here = await make_bus(redeliver_after=REDELIVER)
    there = await make_bus(redeliver_after=REDELIVER)  # another process, same deployment
    await here.publish("t", [b"job"])
    (taken,) = await there.read("t", "g", "worker-there", block=1)
    await asyncio.sleep(PAST_DUE)  # "there" died without acking
    (again,) = await here.read("t", "g", "worker-here", block=1)
    assert (again.id, again.deliveries) == (taken.id, 2)
    async with there.subscribe("news") as subscription:
        await here.broadcast("news", b"hello")
        assert await next_body(subscription) == b"hello"


@redis_only
async def test_redis_trims_what_every_group_acked(
    make_bus: MakeBus, redis_admin: Any, prefix: str
) -> None:
    bus = await make_bus(trim_every=0.0)
    stream = f"{prefix}:t"
    node = int((await redis_admin.config_get("stream-node-max-entries"))["stream-node-max-entries"])
    if not 0 < node <= 500:
        pytest.skip(f"stream-node-max-entries={node}: approximate trimming would be too coarse")
    assert await bus.read("t", "slow", "c", block=0) == []
    await bus.publish("t", [b"x"] * (3 * node))
    for group in ("fast", "slow"):
        while batch := await bus.read("t", group, "c", count=node, block=0):
            await bus.ack("t", group, [m.id for m in batch])
        if group == "fast":
            assert await redis_admin.xlen(stream) == 3 * node  # "slow" still needs them
    assert await redis_admin.xlen(stream) <= node


async def test_redis_unreachable_is_backend_unavailable() -> None:
    bus = open_bus("redis://127.0.0.1:1/0?prefix=nowhere")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        await bus.start()
    with pytest.raises(BackendUnavailable):
        await bus.publish("t", [b"x"])
    assert time.monotonic() - started < 5
    await bus.close()


async def test_deliver_publishes_then_acks_then_broadcasts(bus: Bus) -> None:
    await bus.publish("in", [b"job"])
    [job] = await bus.read("in", "g", "c1", count=10, block=0.2)
    async with bus.subscribe("news") as news:
        await bus.deliver({"out": [b"r1", b"r2"], "other": []}, [("in", "g", [job.id])], [("news", b"done")])
        assert await asyncio.wait_for(anext(news), 2) == b"done"
    out = await bus.read("out", "g", "c1", count=10, block=0.2)
    assert [m.body for m in out] == [b"r1", b"r2"]
    bus.redeliver_after = 0.05
    await asyncio.sleep(0.1)
    assert await bus.read("in", "g", "c2", count=10, block=0.1) == []  # acked: never comes back
