"""The store contract (``flunq/store/base.py``), run against every backend.

Each test gets a fresh store of one backend (memory, SQLite on tmp_path, Redis with its own
key prefix); see ``store_backends.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from flunq.errors import ConcurrencyError, Conflict, InvalidCursor, NotFound, StoreError
from flunq.store import Store
from flunq.store.base import Commit, ExecutionRecord

try:  # fixtures and builders; the import path depends on whether tests/contract is a package
    from .store_backends import (
        OTHER,
        StoreFactory,
        T,
        at,
        create,
        definition,
        entry,
        listener,
        record,
        seqs,
        step,
        store,
        store_backend,
        store_factory,
        store_url,
        timer,
    )
except ImportError:
    from store_backends import (  # type: ignore[no-redef]
        OTHER,
        StoreFactory,
        T,
        at,
        create,
        definition,
        entry,
        listener,
        record,
        seqs,
        step,
        store,
        store_backend,
        store_factory,
        store_url,
        timer,
    )

__all__ = ["store", "store_backend", "store_factory", "store_url"]  # fixtures, used by name

# -- definitions -------------------------------------------------------------------------


async def test_definitions_latest_is_highest_semver(store: Store) -> None:
    for v in ["1.9.0", "1.10.0", "1.2.3"]:
        await store.put_definition(definition(v))
    assert (await store.get_definition(T, "default", "order")).version == "1.10.0"
    assert (await store.get_definition(T, "default", "order", "1.9.0")).source == "doc 1.9.0"
    for v in ["2.0.0-rc.1", "2.0.0-alpha", "2.0.0-rc.0"]:  # above 1.10.0, below 2.0.0
        await store.put_definition(definition(v))
    assert (await store.get_definition(T, "default", "order")).version == "2.0.0-rc.1"
    await store.put_definition(definition("2.0.0"))
    assert (await store.get_definition(T, "default", "order")).version == "2.0.0"


async def test_definitions_list_is_sorted_and_filtered(store: Store) -> None:
    await store.put_definition(definition("1.10.0"))
    await store.put_definition(definition("1.2.0"))
    await store.put_definition(definition("1.0.0", name="billing"))
    await store.put_definition(definition("1.0.0", namespace="ops", name="backup"))
    listed = [(d.namespace, d.name, d.version) for d in await store.list_definitions(T)]
    assert listed == [
        ("default", "billing", "1.0.0"),
        ("default", "order", "1.2.0"),
        ("default", "order", "1.10.0"),
        ("ops", "backup", "1.0.0"),
    ]
    assert len(await store.list_definitions(T, namespace="default")) == 3
    only = await store.list_definitions(T, namespace="default", name="order")
    assert [d.version for d in only] == ["1.2.0", "1.10.0"]
    assert await store.list_definitions(T, name="nothing") == []


async def test_definitions_put_is_idempotent_and_conflicts(store: Store) -> None:
    first = await store.put_definition(definition("1.0.0", "doc A"))
    again = await store.put_definition(
        msgspec.structs.replace(definition("1.0.0", "doc A"), created_at=at(5))
    )
    assert again == first  # the stored row, with its first created_at
    with pytest.raises(Conflict):
        await store.put_definition(definition("1.0.0", "doc B"))
    assert (await store.get_definition(T, "default", "order")).source == "doc A"


async def test_definitions_delete(store: Store) -> None:
    for v in ["1.0.0", "1.1.0", "2.0.0"]:
        await store.put_definition(definition(v))
    assert await store.delete_definition(T, "default", "order", "2.0.0") == 1
    assert await store.delete_definition(T, "default", "order", "2.0.0") == 0
    assert (await store.get_definition(T, "default", "order")).version == "1.1.0"
    assert await store.delete_definition(T, "default", "order") == 2
    with pytest.raises(NotFound):
        await store.get_definition(T, "default", "order")
    assert await store.list_definitions(T) == []
    assert await store.delete_definition(T, "default", "order") == 0


async def test_definitions_tenant_isolation(store: Store) -> None:
    await store.put_definition(definition("1.0.0"))
    with pytest.raises(NotFound):
        await store.get_definition(OTHER, "default", "order")
    with pytest.raises(NotFound):
        await store.get_definition(OTHER, "default", "order", "1.0.0")
    assert await store.list_definitions(OTHER) == []
    assert await store.delete_definition(OTHER, "default", "order") == 0
    # the same key in another tenant is another row: no conflict
    await store.put_definition(definition("1.0.0", "other doc", tenant=OTHER))
    assert (await store.get_definition(T, "default", "order")).source == "doc 1.0.0"


# -- executions --------------------------------------------------------------------------


async def test_create_and_load_without_snapshot(store: Store) -> None:
    rec = await create(store, "e1", correlation_id="c-1", output=None)
    assert rec == record("e1", correlation_id="c-1")
    loaded = await store.load(T, "e1")
    assert loaded.record == rec
    assert loaded.snapshot is None and loaded.snapshot_seq == 0
    assert loaded.tail == [entry(1, {"input": "e1"})]
    assert await store.get_execution(T, "e1") == rec


async def test_create_with_idempotency_key(store: Store) -> None:
    _, created = await store.create_execution(record("e1"), entry(1), "key-1")
    assert created
    again, created = await store.create_execution(record("e2"), entry(1), "key-1")
    assert not created and again.id == "e1"
    with pytest.raises(NotFound):  # nothing of e2 was written
        await store.get_execution(T, "e2")
    with pytest.raises(NotFound):
        await store.read_journal(T, "e2")
    # keys are per tenant
    other, created = await store.create_execution(record("e2", tenant=OTHER), entry(1), "key-1")
    assert created and other.tenant == OTHER


async def test_create_refuses_existing_id_and_bad_seq(store: Store) -> None:
    await create(store, "e1")
    with pytest.raises(Conflict):
        await store.create_execution(record("e1"), entry(1))
    with pytest.raises(StoreError):
        await store.create_execution(record("e2", seq=2), entry(1))
    assert await seqs(store, "e1") == [1]


async def test_commit_appends_and_load_uses_snapshot(store: Store) -> None:
    rec = await create(store, "e1")
    c = step(rec, 2, snapshot=b"state@3", record={"output": {"x": [1, 2]}})
    await store.commit(c)
    loaded = await store.load(T, "e1")
    assert loaded.record == c.record and loaded.record.seq == 3
    assert (loaded.snapshot, loaded.snapshot_seq, loaded.tail) == (b"state@3", 3, [])
    c2 = step(c.record, 1)  # no snapshot: the old one stays, the tail grows
    await store.commit(c2)
    loaded = await store.load(T, "e1")
    assert (loaded.snapshot, loaded.snapshot_seq) == (b"state@3", 3)
    assert loaded.tail == [entry(4, {"n": 4})]
    assert await seqs(store, "e1") == [1, 2, 3, 4]


async def test_commit_without_entries_updates_the_row(store: Store) -> None:
    rec = await create(store, "e1")
    c = Commit(record=msgspec.structs.replace(rec, status="suspended"), expected_seq=1)
    await store.commit(c)
    assert (await store.get_execution(T, "e1")).status == "suspended"
    assert await seqs(store, "e1") == [1]


async def test_stale_commit_writes_nothing(store: Store) -> None:
    rec = await create(store, "e1")
    good = step(rec, 1)
    await store.commit(good)
    stale = step(
        rec,
        2,
        snapshot=b"stale",
        record={"status": "completed"},
        timers_set=[timer("e1", "t", 10.0)],
        listeners_set=[listener("e1", "l")],
    )
    with pytest.raises(ConcurrencyError):
        await store.commit(stale)
    loaded = await store.load(T, "e1")
    assert loaded.record == good.record
    assert loaded.snapshot is None
    assert await seqs(store, "e1") == [1, 2]
    assert await store.next_timer_due() is None
    assert await store.listeners(T) == []


async def test_commit_refuses_unknown_execution_and_malformed_commits(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.commit(step(record("ghost"), 1))
    rec = await create(store, "e1")
    gap = step(rec, 1)
    gap.entries[0] = entry(3)
    with pytest.raises(StoreError) as info:
        await store.commit(gap)
    assert not isinstance(info.value, ConcurrencyError)
    wrong_timer = step(rec, 1, timers_set=[timer("e2", "t", 1.0)])
    with pytest.raises(StoreError):
        await store.commit(wrong_timer)
    assert await seqs(store, "e1") == [1]


async def test_concurrent_commits_one_wins_journal_has_no_gaps(store: Store) -> None:
    rec = await create(store, "e1")
    for _ in range(5):  # rounds of 8 workers racing from the same loaded state
        loaded = await store.load(T, "e1")
        racers = [step(loaded.record, 1 + i % 2) for i in range(8)]
        results = await asyncio.gather(*(store.commit(c) for c in racers), return_exceptions=True)
        assert sum(r is None for r in results) == 1
        assert all(isinstance(r, ConcurrencyError) for r in results if r is not None)
    journal = await seqs(store, "e1")
    assert journal == list(range(1, len(journal) + 1))
    assert (await store.get_execution(T, "e1")).seq == journal[-1]
    assert rec.seq == 1


async def test_commit_many_mixed_results(store: Store) -> None:
    a, b, c = [await create(store, eid) for eid in ("a", "b", "c")]
    bad = step(c, 1)
    bad.entries[0] = entry(5)
    commits = [step(a, 1), step(b, 1, expected=4), bad, step(c, 2)]
    results = await store.commit_many(commits)
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], ConcurrencyError)
    assert isinstance(results[2], StoreError) and not isinstance(results[2], ConcurrencyError)
    assert await seqs(store, "a") == [1, 2]
    assert await seqs(store, "b") == [1]
    assert await seqs(store, "c") == [1, 2, 3]
    assert await store.commit_many([]) == []


async def test_commit_many_same_execution_one_wins(store: Store) -> None:
    rec = await create(store, "e1")
    results = await store.commit_many([step(rec, 1), step(rec, 1)])
    assert results[0] is None and isinstance(results[1], ConcurrencyError)
    assert await seqs(store, "e1") == [1, 2]


async def test_rows_are_copies(store: Store) -> None:
    rec = record("e1", output={"items": [1]})
    await store.create_execution(rec, entry(1, {"a": [1]}))
    assert rec.output is not None
    rec.output["items"].append(2)  # the caller's object, changed after the call
    got = await store.get_execution(T, "e1")
    assert got.output == {"items": [1]}
    got.output["items"].append(3)
    assert (await store.get_execution(T, "e1")).output == {"items": [1]}
    tail = (await store.load(T, "e1")).tail
    tail[0].data["a"].append(2)
    assert (await store.read_journal(T, "e1"))[0].data == {"a": [1]}


async def test_execution_tenant_isolation(store: Store) -> None:
    rec = await create(store, "e1", status="running")
    await store.commit(step(rec, 1, listeners_set=[listener("e1", "l1")]))
    for call in (
        store.get_execution(OTHER, "e1"),
        store.load(OTHER, "e1"),
        store.read_journal(OTHER, "e1"),
    ):
        with pytest.raises(NotFound):
            await call
    with pytest.raises(NotFound):
        await store.commit(step(record("e1", tenant=OTHER), 1))
    assert (await store.list_executions(OTHER)).items == []
    assert await store.listeners(OTHER) == []
    assert await seqs(store, "e1") == [1, 2]


# -- listing -----------------------------------------------------------------------------


async def fill(store: Store) -> list[ExecutionRecord]:
    """Ten executions, created a minute apart, with a spread of workflows and statuses."""
    made = []
    for i in range(10):
        rec = await create(
            store,
            f"x{i}",
            created_at=at(i),
            namespace="ops" if i % 3 == 0 else "default",
            name="order" if i % 2 else "billing",
            correlation_id="corr-a" if i < 3 else None,
        )
        if i % 4 == 0:
            await store.commit(step(rec, 1, record={"status": "completed"}))
            rec = await store.get_execution(T, rec.id)
        made.append(rec)
    return made


def ids(page_items: list[ExecutionRecord]) -> list[str]:
    return [r.id for r in page_items]


async def test_list_executions_filters(store: Store) -> None:
    made = await fill(store)
    newest_first = sorted(made, key=lambda r: (r.created_at, r.id), reverse=True)

    async def listed(**kw: Any) -> list[str]:
        page = await store.list_executions(T, **kw)
        assert page.cursor is None
        return ids(page.items)

    def want(pred: Any) -> list[str]:
        return [r.id for r in newest_first if pred(r)]

    assert await listed() == want(lambda r: True)
    assert await listed(status="completed") == ["x8", "x4", "x0"]
    assert await listed(namespace="ops") == want(lambda r: r.namespace == "ops")
    assert await listed(name="order") == want(lambda r: r.name == "order")
    assert await listed(namespace="default", name="billing") == want(
        lambda r: r.namespace == "default" and r.name == "billing"
    )
    assert await listed(correlation_id="corr-a") == ["x2", "x1", "x0"]
    assert await listed(correlation_id="corr-a", status="pending") == ["x2", "x1"]
    assert await listed(since=at(3), until=at(6)) == ["x5", "x4", "x3"]
    assert await listed(status="pending", namespace="ops", since=at(1)) == ["x9", "x6", "x3"]
    assert await listed(status="faulted") == []


async def test_list_executions_cursor_paging_is_stable_under_inserts(store: Store) -> None:
    await fill(store)
    seen: list[str] = []
    page = await store.list_executions(T, limit=3)
    while True:
        seen += ids(page.items)
        # newer executions arriving between pages must not shift the next page
        await create(store, f"new{len(seen)}", created_at=at(100 + len(seen)))
        if page.cursor is None:
            break
        page = await store.list_executions(T, limit=3, cursor=page.cursor)
    assert seen == [f"x{i}" for i in range(9, -1, -1)]
    filtered = await store.list_executions(T, status="pending", limit=2)
    second = await store.list_executions(T, status="pending", limit=2, cursor=filtered.cursor)
    assert ids(filtered.items) + ids(second.items) == ["new10", "new9", "new6", "new3"]


async def test_list_executions_same_created_at_ties_by_id(store: Store) -> None:
    for eid in ["b", "a", "c", "d"]:
        await create(store, eid)
    first = await store.list_executions(T, limit=2)
    rest = await store.list_executions(T, limit=2, cursor=first.cursor)
    assert ids(first.items) == ["d", "c"] and ids(rest.items) == ["b", "a"]
    assert rest.cursor is None


async def test_list_executions_bad_cursor(store: Store) -> None:
    with pytest.raises(InvalidCursor):
        await store.list_executions(T, cursor="not a cursor!")


# -- journal -----------------------------------------------------------------------------


async def test_read_journal_after_and_limit(store: Store) -> None:
    rec = await create(store, "e1")
    await store.commit(step(rec, 5))
    assert await seqs(store, "e1") == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in await store.read_journal(T, "e1", after=2)] == [3, 4, 5, 6]
    assert [e.seq for e in await store.read_journal(T, "e1", after=2, limit=2)] == [3, 4]
    assert await store.read_journal(T, "e1", after=6) == []
    assert await store.read_journal(T, "e1", limit=0) == []
    assert (await store.read_journal(T, "e1", after=1, limit=1))[0] == entry(2, {"n": 2})
    with pytest.raises(NotFound):
        await store.read_journal(T, "nope")


# -- recovery ----------------------------------------------------------------------------


async def test_active_executions_walks_all_tenants(store: Store) -> None:
    # "a-b" sorts before "a/..." as a string but after "a" as a tenant: order is by tuple
    for tenant in ["b", "a-b", "a"]:
        for eid in ["2", "1", "3"]:
            rec = await create(store, eid, tenant=tenant)
            if eid == "3":
                await store.commit(step(rec, 1, record={"status": "faulted"}))
            elif eid == "2":
                await store.commit(step(rec, 1, record={"status": "waiting"}))
    walked: list[tuple[str, str]] = []
    after = None
    while True:
        batch = await store.active_executions(limit=2, after=after)
        if not batch:
            break
        walked += [(r.tenant, r.id) for r in batch]
        after = f"{batch[-1].tenant}/{batch[-1].id}"
    assert walked == [(t, e) for t in ["a", "a-b", "b"] for e in ["1", "2"]]
    everything = await store.active_executions()
    assert {r.status for r in everything} == {"pending", "waiting"}


# -- timers ------------------------------------------------------------------------------


async def test_timers_claim_lease_and_reclaim(store: Store) -> None:
    a = await create(store, "a")
    b = await create(store, "b", tenant=OTHER)
    await store.commit(
        step(a, 1, timers_set=[timer("a", "late", 300.0), timer("a", "early", 100.0)])
    )
    await store.commit(step(b, 1, timers_set=[timer("b", "mid", 200.0, tenant=OTHER)]))
    assert await store.next_timer_due() == 100.0
    assert await store.claim_due_timers(now=50.0, limit=10, lease=30.0) == []

    claimed = await store.claim_due_timers(now=250.0, limit=1, lease=30.0)
    assert claimed == [timer("a", "early", 100.0)]
    claimed = await store.claim_due_timers(now=250.0, limit=10, lease=30.0)
    assert claimed == [timer("b", "mid", 200.0, tenant=OTHER)]  # "early" is leased
    assert await store.claim_due_timers(now=260.0, limit=10, lease=30.0) == []
    assert await store.next_timer_due() == 100.0  # claimed timers still count

    # the firing of both was lost: they come back once the lease ran out
    again = await store.claim_due_timers(now=280.0, limit=10, lease=30.0)
    assert again == [timer("a", "early", 100.0), timer("b", "mid", 200.0, tenant=OTHER)]


async def test_timer_due_times_keep_full_precision(store: Store) -> None:
    a = await create(store, "a")
    due = 1764168000.123456  # epoch seconds with microseconds
    await store.commit(step(a, 1, timers_set=[timer("a", "t", due)]))
    assert await store.next_timer_due() == due
    assert await store.claim_due_timers(now=due, limit=1, lease=1.0) == [timer("a", "t", due)]
    assert await store.claim_due_timers(now=due + 0.999, limit=1, lease=1.0) == []
    assert len(await store.claim_due_timers(now=due + 1.0, limit=1, lease=1.0)) == 1


async def test_timers_cancel_and_reset_by_commit(store: Store) -> None:
    a = await create(store, "a")
    c1 = step(a, 1, timers_set=[timer("a", "t1", 100.0), timer("a", "t2", 150.0)])
    await store.commit(c1)
    assert len(await store.claim_due_timers(now=200.0, limit=10, lease=60.0)) == 2
    # cancel t1; re-set t2 later: a re-set timer is new and unclaimed
    c2 = step(c1.record, 1, timers_cancel=["t1", "unknown"], timers_set=[timer("a", "t2", 180.0)])
    await store.commit(c2)
    assert await store.next_timer_due() == 180.0
    assert await store.claim_due_timers(now=200.0, limit=10, lease=60.0) == [
        timer("a", "t2", 180.0)
    ]
    await store.commit(step(c2.record, 1, timers_cancel=["t2"]))
    assert await store.next_timer_due() is None
    assert await store.claim_due_timers(now=1e12, limit=10, lease=60.0) == []


# -- listeners ---------------------------------------------------------------------------


async def test_listeners_set_cancel_and_tenants(store: Store) -> None:
    a = await create(store, "a")
    b = await create(store, "b")
    o = await create(store, "o", tenant=OTHER)
    ca = step(a, 1, listeners_set=[listener("a", "l2"), listener("a", "l1")])
    await store.commit(ca)
    await store.commit(step(b, 1, listeners_set=[listener("b", "l1")]))
    await store.commit(step(o, 1, listeners_set=[listener("o", "l1", tenant=OTHER)]))
    got = [(x.execution_id, x.listener_id) for x in await store.listeners(T)]
    assert got == [("a", "l1"), ("a", "l2"), ("b", "l1")]
    assert await store.listeners(OTHER) == [listener("o", "l1", tenant=OTHER)]

    ca2 = step(ca.record, 1, listeners_cancel=["l2"])
    await store.commit(ca2)
    got = [(x.execution_id, x.listener_id) for x in await store.listeners(T)]
    assert got == [("a", "l1"), ("b", "l1")]
    # an execution that ends listens to nothing any more
    await store.commit(step(ca2.record, 1, record={"status": "cancelled"}))
    assert [x.execution_id for x in await store.listeners(T)] == ["b"]


# -- lifecycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("store_backend", ["sqlite", "redis"])  # memory:// keeps nothing
async def test_close_flushes_pending_commits(store_factory: StoreFactory) -> None:
    first = await store_factory()
    recs = [await create(first, f"e{i}") for i in range(20)]
    awaited = step(recs[0], 1)
    await first.commit(awaited)
    pending = [asyncio.create_task(first.commit(step(r, 1))) for r in recs[1:]]
    await asyncio.sleep(0)  # they are queued, not yet applied
    await first.close()
    assert await asyncio.gather(*pending) == [None] * 19
    await first.close()  # idempotent

    reopened = await store_factory()
    for r in recs:
        assert await seqs(reopened, r.id) == [1, 2]


@pytest.mark.parametrize("store_backend", ["sqlite", "redis"])  # memory:// keeps nothing
async def test_reopen_keeps_everything(store_factory: StoreFactory) -> None:
    s = await store_factory()
    await s.put_definition(definition("1.0.0"))
    rec, _ = await s.create_execution(record("e1", correlation_id="c"), entry(1), "idem")
    c = step(
        rec,
        2,
        snapshot=b"snap",
        timers_set=[timer("e1", "t", 5.0)],
        listeners_set=[listener("e1", "l")],
    )
    await s.commit(c)
    assert len(await s.claim_due_timers(now=10.0, limit=5, lease=100.0)) == 1
    await s.close()

    s = await store_factory()
    assert (await s.get_definition(T, "default", "order")).source == "doc 1.0.0"
    loaded = await s.load(T, "e1")
    assert (loaded.record, loaded.snapshot, loaded.snapshot_seq) == (c.record, b"snap", 3)
    assert ids((await s.list_executions(T, correlation_id="c")).items) == ["e1"]
    assert [r.id for r in await s.active_executions()] == ["e1"]
    assert await s.listeners(T) == [listener("e1", "l")]
    assert await s.next_timer_due() == 5.0
    assert await s.claim_due_timers(now=10.0, limit=5, lease=100.0) == []  # lease kept
    again, created = await s.create_execution(record("e2"), entry(1), "idem")
    assert not created and again.id == "e1"
