"""One worker step of one execution: load, advance, and describe the commit and follow-ups.

Loading prefers the worker's cache of decoded states. A cached state is only trusted as far
as the store agrees: the commit is conditional on the journal's sequence number, and after
a ``ConcurrencyError`` the worker drops the cache entry and loads again. Without a usable
snapshot (none yet, or a corrupt one) the state is rebuilt by replaying the journal.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgspec

from flunq.engine import Engine, fact_entry
from flunq.interpreter import Env, ExecutionState, advance, dump_state, load_state
from flunq.interpreter.protocol import (
    AnyFact,
    CancelTimer,
    Command,
    EffectCompleted,
    EffectFailed,
    Emit,
    LifecycleEvent,
    Listen,
    Perform,
    Started,
    StartTimer,
    StartWorkflow,
    TimerFired,
    Unlisten,
)
from flunq.interpreter.times import to_epoch
from flunq.store.base import (
    TERMINAL,
    Commit,
    ExecutionRecord,
    JournalEntry,
    ListenerRecord,
    Loaded,
    Timer,
)

log = logging.getLogger("flunq.worker")


@dataclass
class Outcome:
    """What a step produced: the commit to make and what to do once it is made."""

    tenant: str
    execution_id: str
    commit: Commit | None
    record: ExecutionRecord
    state: ExecutionState | None
    effects: list[Perform] = field(default_factory=list)
    emitted: list[dict[str, Any]] = field(default_factory=list)
    children: list[StartWorkflow] = field(default_factory=list)
    parent_fact: tuple[str, AnyFact] | None = None  # (parent execution id, fact for it)
    status_changed: bool = False
    cached: bool = False  # stepped from the worker's cache, not from the store


class StateCache:
    """Records and decoded states of recently stepped executions, keyed by (tenant, id)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[ExecutionRecord, ExecutionState]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> tuple[ExecutionRecord, ExecutionState] | None:
        item = self._items.pop(key, None)
        if item is not None:
            self._items[key] = item
        return item

    def put(self, key: tuple[str, str], record: ExecutionRecord, state: ExecutionState) -> None:
        if self.size <= 0:
            return
        self._items[key] = (record, state)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, key: tuple[str, str]) -> None:
        self._items.pop(key, None)


def decode_fact(entry: JournalEntry) -> AnyFact:
    fact: AnyFact = msgspec.convert(entry.data, AnyFact)
    return fact


class Stepper:
    def __init__(self, engine: Engine, env: Env, cache: StateCache, source: str = "flunq") -> None:
        self.engine = engine
        self.env = env
        self.cache = cache
        self.source = source

    async def step(self, tenant: str, execution_id: str, facts: list[AnyFact]) -> Outcome:
        """Apply the journal's unapplied facts, then ``facts``; build the commit.

        A fact the cached state ignores may be one it is too old to know (another worker
        advanced the execution): such a step writes nothing, so no sequence check would
        catch the stale cache. It is stepped again from the store before being given up.
        """
        key = (tenant, execution_id)
        outcome, ignored = await self._step(tenant, execution_id, facts, self.cache.get(key))
        if ignored and outcome.cached:
            self.cache.drop(key)
            outcome, _ = await self._step(tenant, execution_id, facts, None)
        return outcome

    async def _step(
        self, tenant: str, execution_id: str, facts: list[AnyFact],
        cached: tuple[ExecutionRecord, ExecutionState] | None,
    ) -> tuple[Outcome, bool]:
        """The outcome, and whether some of ``facts`` changed nothing."""
        state: ExecutionState | None
        if cached is not None:
            record, state = cached
            pending: list[AnyFact] = []
        else:
            loaded = await self.engine.store.load(tenant, execution_id)
            record = loaded.record
            state, pending = await self._restore(loaded)
        defn = await self.engine.definition(tenant, record.namespace, record.name, record.version)
        seq = record.seq
        entries: list[JournalEntry] = []
        commands: list[Command] = []
        fired: list[str] = []
        ignored = False
        for fact, journaled in [(f, True) for f in pending] + [(f, False) for f in facts]:
            if state is None and not isinstance(fact, Started):
                continue
            result = advance(defn, state, fact, self.env)
            state = result.state
            if isinstance(fact, TimerFired):
                fired.append(fact.timer_id)  # fired or stale: either way it must go
            if not result.applied:
                ignored = ignored or not journaled
                continue
            if not journaled:
                seq += 1
                entries.append(fact_entry(seq, fact))
            for event in result.events:
                seq += 1
                entries.append(self._event_entry(seq, event, record))
            commands.extend(result.commands)
        outcome = self._outcome(record, state, seq, entries, commands, fired)
        outcome.cached = cached is not None
        return outcome, ignored

    async def _restore(self, loaded: Loaded) -> tuple[ExecutionState | None, list[AnyFact]]:
        if loaded.snapshot is not None:
            try:
                state = load_state(loaded.snapshot)
                return state, [decode_fact(e) for e in loaded.tail if e.kind == "fact"]
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("corrupt snapshot of %s, replaying its journal: %s", loaded.record.id, exc)
            entries = await self.engine.store.read_journal(loaded.record.tenant, loaded.record.id)
        else:
            entries = loaded.tail
        return await self._replay(loaded.record, entries)

    async def _replay(self, record: ExecutionRecord, entries: list[JournalEntry]) -> tuple[ExecutionState | None, list[AnyFact]]:
        """Facts before the last journaled event were applied already: replay them silently.
        Facts after it (the API's ``started`` entry, before any worker ran) are pending."""
        last_event = max((i for i, e in enumerate(entries) if e.kind == "event"), default=-1)
        defn = await self.engine.definition(record.tenant, record.namespace, record.name, record.version)
        state: ExecutionState | None = None
        pending: list[AnyFact] = []
        for index, entry in enumerate(entries):
            if entry.kind != "fact":
                continue
            fact = decode_fact(entry)
            if index > last_event:
                pending.append(fact)
            elif state is not None or isinstance(fact, Started):
                state = advance(defn, state, fact, self.env).state
        return state, pending

    def _event_entry(self, seq: int, event: LifecycleEvent, record: ExecutionRecord) -> JournalEntry:
        cloud = {
            "specversion": "1.0",
            "id": f"{record.id}:{seq}",
            "source": f"{self.source}/{record.tenant}/{record.namespace}/{record.name}",
            "type": event.type,
            "time": event.time,
            "subject": record.id,
            "datacontenttype": "application/json",
            "data": event.data,
        }
        return JournalEntry(seq=seq, kind="event", type=event.type, at=event.time, data=cloud)

    def _outcome(
        self, record: ExecutionRecord, state: ExecutionState | None, seq: int,
        entries: list[JournalEntry], commands: list[Command], fired: list[str],
    ) -> Outcome:
        outcome = Outcome(tenant=record.tenant, execution_id=record.id, commit=None, record=record, state=state)
        if state is None or (not entries and not fired):
            return outcome
        timers: dict[str, Timer | None] = {t: None for t in fired}
        listeners: dict[str, ListenerRecord | None] = {}
        for cmd in commands:
            if isinstance(cmd, StartTimer):
                timers[cmd.timer_id] = Timer(
                    tenant=record.tenant, execution_id=record.id, timer_id=cmd.timer_id, due=to_epoch(cmd.due)
                )
            elif isinstance(cmd, CancelTimer):
                timers[cmd.timer_id] = None
            elif isinstance(cmd, Listen):
                listeners[cmd.listener_id] = ListenerRecord(
                    tenant=record.tenant, execution_id=record.id, listener_id=cmd.listener_id,
                    filters=cmd.filters, created_at=state.updated_at,
                )
            elif isinstance(cmd, Unlisten):
                listeners[cmd.listener_id] = None
            elif isinstance(cmd, Perform):
                outcome.effects.append(cmd)
            elif isinstance(cmd, Emit):
                outcome.emitted.append(cmd.event)
            elif isinstance(cmd, StartWorkflow):
                outcome.children.append(cmd)
        new = self._record(record, state, seq) if entries else record
        outcome.commit = Commit(
            record=new,
            expected_seq=record.seq,
            entries=entries,
            snapshot=dump_state(state) if entries else None,
            timers_set=[t for t in timers.values() if t is not None],
            timers_cancel=[k for k, t in timers.items() if t is None],
            listeners_set=[lr for lr in listeners.values() if lr is not None],
            listeners_cancel=[k for k, lr in listeners.items() if lr is None],
        )
        outcome.record = new
        outcome.status_changed = new.status != record.status
        if new.status in TERMINAL and record.status not in TERMINAL and record.parent_id and record.parent_effect:
            if new.status == "completed":
                fact: AnyFact = EffectCompleted(at=state.updated_at, effect_id=record.parent_effect, result=state.output)
            else:
                error = state.error or {"type": "https://serverlessworkflow.io/spec/1.0.0/errors/runtime",
                                        "status": 500, "title": f"Child workflow {new.status}"}
                fact = EffectFailed(at=state.updated_at, effect_id=record.parent_effect, error=error)
            outcome.parent_fact = (record.parent_id, fact)
        return outcome

    @staticmethod
    def _record(record: ExecutionRecord, state: ExecutionState, seq: int) -> ExecutionRecord:
        terminal = state.status in TERMINAL
        return msgspec.structs.replace(
            record,
            status=state.status,
            updated_at=state.updated_at or record.updated_at,
            seq=seq,
            output=state.output if state.status == "completed" else None,
            error=state.error if state.status == "faulted" else None,
            ended_at=(state.updated_at if terminal else None),
        )
