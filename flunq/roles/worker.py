"""The worker role: advances executions with the facts it reads from the ``work`` topic.

One round: read a batch of messages; group them by execution; step every execution once
with all its facts (``Stepper``); make all the commits with one ``commit_many`` (one
transaction on SQLite, one pipeline on Redis); then dispatch what the commits call for
(effects, emitted events, child workflows, the parent's result) in one publish per topic;
then ack. A crash anywhere before the ack means redelivery, and redelivered facts are
ignored by the interpreter once applied, so nothing is applied twice. A commit lost to a
concurrent worker (``ConcurrencyError``) is retried after reloading.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import msgspec

from flunq.bus.base import Message
from flunq.engine import Engine
from flunq.errors import ConcurrencyError, DefinitionError, FlunqError, NotFound, problem
from flunq.interpreter.protocol import AnyFact, EffectFailed
from flunq.interpreter.times import now_iso
from flunq.messages import (
    EFFECTS,
    EVENTS,
    WORK,
    EffectItem,
    EventItem,
    WorkItem,
    changes_channel,
    decode_work,
    encode,
)
from flunq.roles.base import Role
from flunq.roles.stepper import Outcome, Stepper

log = logging.getLogger("flunq.worker")
GROUP = "workers"
MAX_RETRIES = 5


class Worker(Role):
    name = "worker"

    def __init__(self, engine: Engine, stepper: Stepper, *, consumer: str, batch: int = 256) -> None:
        super().__init__()
        self.engine = engine
        self.stepper = stepper
        self.consumer = consumer
        self.batch = batch

    async def run(self) -> None:
        await self.loop(self._round, what="worker")

    async def _round(self) -> None:
        messages = await self.engine.bus.read(WORK, GROUP, self.consumer, count=self.batch, block=0.5)
        if messages:
            await self.process(messages)

    async def process(self, messages: list[Message]) -> None:
        groups: dict[tuple[str, str], list[tuple[Message, WorkItem]]] = defaultdict(list)
        for message in messages:
            try:
                item = decode_work(message.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("message %s dead-lettered: undecodable work item: %s", message.id, exc)
                await self.engine.bus.dead_letter(WORK, GROUP, message, f"undecodable work item: {exc}")
                continue
            groups[(item.tenant, item.execution_id)].append((message, item))
        acks: list[str] = []
        outcomes: list[Outcome] = []
        for _attempt in range(MAX_RETRIES):
            if not groups:
                break
            groups = await self._attempt(groups, acks, outcomes)
        for key, items in groups.items():
            log.warning("execution %s/%s: still conflicting after %d tries; left for redelivery", *key, MAX_RETRIES)
            del items
        await self._dispatch(outcomes, acks)

    async def _attempt(
        self, groups: dict[tuple[str, str], list[tuple[Message, WorkItem]]], acks: list[str], outcomes: list[Outcome]
    ) -> dict[tuple[str, str], list[tuple[Message, WorkItem]]]:
        """Step and commit every group once; return the groups to retry."""
        # Loads are I/O: run the steps together so their round trips overlap.
        keyed = list(groups.items())
        outcomes_ = await asyncio.gather(*(self._step(key, items) for key, items in keyed))
        stepped = [(key, items, o) for (key, items), o in zip(keyed, outcomes_, strict=True) if o is not None]
        commits = [o.commit for _, _, o in stepped if o.commit is not None]
        results = iter(await self.engine.store.commit_many(commits) if commits else [])
        retry = {}
        for key, items, outcome in stepped:
            error = next(results) if outcome.commit is not None else None
            if error is None:
                if outcome.state is not None:
                    self.stepper.cache.put(key, outcome.record, outcome.state)
                acks.extend(m.id for m, _ in items)
                outcomes.append(outcome)
                continue
            self.stepper.cache.drop(key)
            if isinstance(error, ConcurrencyError):
                retry[key] = items
            elif isinstance(error, FlunqError):
                log.warning("commit of %s/%s failed, left for redelivery: %s", *key, error)
            else:
                raise error
        return retry

    async def _step(self, key: tuple[str, str], items: list[tuple[Message, WorkItem]]) -> Outcome | None:
        facts: list[AnyFact] = [item.fact for _, item in items if item.fact is not None]
        try:
            return await self.stepper.step(key[0], key[1], facts)
        except (NotFound, DefinitionError) as exc:
            await self._reject(items, f"cannot step execution {key[0]}/{key[1]}: {exc}")
            return None

    async def _reject(self, items: list[tuple[Message, WorkItem]], reason: str) -> None:
        log.error(reason)
        for message, _ in items:
            await self.engine.bus.dead_letter(WORK, GROUP, message, reason)

    async def _dispatch(self, outcomes: list[Outcome], acks: list[str]) -> None:
        """Send what the commits call for, then ack what was consumed (one bus hand-off)."""
        effects: list[bytes] = []
        events: list[bytes] = []
        work: list[bytes] = []
        children: list[tuple[Outcome, Any]] = []
        for o in outcomes:
            effects.extend(encode(EffectItem(tenant=o.tenant, execution_id=o.execution_id, command=c)) for c in o.effects)
            events.extend(encode(EventItem(tenant=o.tenant, event=e, source_execution=o.execution_id)) for e in o.emitted)
            if o.parent_fact is not None:
                parent, fact = o.parent_fact
                work.append(encode(WorkItem(tenant=o.tenant, execution_id=parent, fact=fact)))
            children.extend((o, c) for c in o.children)
        if children:
            await asyncio.gather(*(self._start_child(o, c) for o, c in children))
        changes = [
            (changes_channel(o.tenant, o.execution_id), o.record.status.encode()) for o in outcomes if o.status_changed
        ]
        await self.engine.bus.deliver({EFFECTS: effects, EVENTS: events, WORK: work}, [(WORK, GROUP, acks)], changes)

    async def _start_child(self, outcome: Outcome, command: Any) -> None:
        """Start a ``run: workflow`` child once, whatever the redeliveries (idempotency key)."""
        parent = (outcome.execution_id, command.effect_id) if command.wait else None
        try:
            await self.engine.start(
                outcome.tenant, command.namespace, command.name, command.input,
                version=None if command.version == "latest" else command.version,
                idempotency_key=f"child:{outcome.execution_id}:{command.effect_id}",
                parent=parent,
            )
        except (NotFound, DefinitionError) as exc:
            if command.wait:
                fact = EffectFailed(at=now_iso(), effect_id=command.effect_id, error=problem(
                    "configuration", detail=f"cannot run workflow {command.namespace}/{command.name}:{command.version}: {exc}"))
                item = WorkItem(tenant=outcome.tenant, execution_id=outcome.execution_id, fact=fact)
                await self.engine.bus.publish(WORK, [encode(item)])
