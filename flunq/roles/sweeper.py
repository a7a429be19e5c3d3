"""The sweeper (part of the worker role): nothing stays running because a process died.

At start-up and every ``interval`` seconds it walks the active executions and re-drives
those whose progress may have been lost:

- an execution whose journal has facts no worker applied yet (created, then the wake-up
  message was lost) gets a new wake-up;
- an execution with effects in flight gets them dispatched again when the bus cannot have
  kept them (the in-process bus, at start-up) or when it has been idle longer than
  ``stale_after`` (the effect message or its result was lost, e.g. a worker died between
  its commit and its dispatch). Effects are at least once; the interpreter ignores a
  second result of the same effect.
"""

from __future__ import annotations

import logging
import time

from flunq.engine import Engine
from flunq.errors import problem
from flunq.interpreter import load_state
from flunq.interpreter.protocol import (
    AnyFact,
    EffectCompleted,
    EffectFailed,
    Perform,
    StartWorkflow,
)
from flunq.interpreter.times import now_iso, to_epoch
from flunq.messages import EFFECTS, WORK, EffectItem, WorkItem, encode
from flunq.roles.base import Role
from flunq.store.base import TERMINAL, ExecutionRecord

log = logging.getLogger("flunq.sweeper")


class Sweeper(Role):
    name = "sweeper"

    def __init__(self, engine: Engine, *, interval: float = 30.0, stale_after: float = 300.0) -> None:
        super().__init__()
        self.engine = engine
        self.interval = interval
        self.stale_after = stale_after
        self._first = True

    async def run(self) -> None:
        await self.loop(self._round, what="sweeper")

    async def _round(self) -> None:
        startup, self._first = self._first, False
        redriven = await self.sweep(startup=startup)
        if redriven:
            log.info("re-drove %d execution(s)%s", redriven, " at start-up" if startup else "")
        await self.pause(self.interval)

    async def sweep(self, *, startup: bool) -> int:
        after: str | None = None
        count = 0
        while True:
            records = await self.engine.store.active_executions(limit=500, after=after)
            if not records:
                return count
            for record in records:
                count += await self._check(record, startup)
            after = f"{records[-1].tenant}/{records[-1].id}"

    async def _check(self, record: ExecutionRecord, startup: bool) -> int:
        idle = time.time() - to_epoch(record.updated_at)
        lost = startup and not self.engine.bus.shared
        if not (lost or idle > self.stale_after):
            return 0
        loaded = await self.engine.store.load(record.tenant, record.id)
        wake = [encode(WorkItem(tenant=record.tenant, execution_id=record.id))]
        if loaded.snapshot is None or loaded.tail:
            await self.engine.bus.publish(WORK, wake)
            return 1
        try:
            state = load_state(loaded.snapshot)
        except Exception:
            await self.engine.bus.publish(WORK, wake)  # the worker will replay the journal
            return 1
        effects = [c for c in state.inflight.values() if isinstance(c, Perform)]
        children = [c for c in state.inflight.values() if isinstance(c, StartWorkflow)]
        if effects:
            items = [encode(EffectItem(tenant=record.tenant, execution_id=record.id, command=c)) for c in effects]
            await self.engine.bus.publish(EFFECTS, items)
        for child in children:
            await self._redrive_child(record, child)
        return 1 if effects or children else 0

    async def _redrive_child(self, record: ExecutionRecord, child: StartWorkflow) -> None:
        """Start the child if it never started; if it ended already, report its end again."""
        kid, created = await self.engine.start(
            record.tenant, child.namespace, child.name, child.input,
            version=None if child.version == "latest" else child.version,
            idempotency_key=f"child:{record.id}:{child.effect_id}", parent=(record.id, child.effect_id),
        )
        if created or kid.status not in TERMINAL:
            return
        if kid.status == "completed":
            fact: AnyFact = EffectCompleted(at=now_iso(), effect_id=child.effect_id, result=kid.output)
        else:
            fact = EffectFailed(at=now_iso(), effect_id=child.effect_id,
                                error=kid.error or problem("runtime", detail=f"child workflow {kid.status}"))
        await self.engine.bus.publish(WORK, [encode(WorkItem(tenant=record.tenant, execution_id=record.id, fact=fact))])
