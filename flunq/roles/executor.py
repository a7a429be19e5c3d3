"""The executor role: performs the side effects the interpreter asked for.

Reads ``Perform`` commands from the ``effects`` topic, runs each (up to
``concurrency`` at once) with :func:`flunq.effects.perform`, and reports the result as a
fact on the ``work`` topic. Results and acks leave through an outbox that publishes
whatever has accumulated in one call, so a busy executor batches without a latency cost.
The ack comes after the result is published: a crash in between repeats the effect (at
least once), never loses it.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from flunq import effects
from flunq.bus.base import Bus, Message
from flunq.errors import WorkflowError
from flunq.interpreter.protocol import AnyFact, EffectCompleted, EffectFailed
from flunq.interpreter.times import now_iso
from flunq.messages import EFFECTS, WORK, EffectItem, WorkItem, decode_effect, encode
from flunq.roles.base import Role

log = logging.getLogger("flunq.executor")
GROUP = "executors"


class Outbox:
    """Results waiting to be published, and the ids to ack once they are."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._items: list[tuple[bytes, str]] = []
        self._ready = asyncio.Event()

    def put(self, body: bytes, ack: str) -> None:
        self._items.append((body, ack))
        self._ready.set()

    async def flush(self) -> None:
        """Publish everything queued, then ack it (both in one call each)."""
        await self._ready.wait()
        self._ready.clear()
        items, self._items = self._items, []
        if not items:
            return
        try:
            await self.bus.deliver({WORK: [body for body, _ in items]}, [(EFFECTS, GROUP, [ack for _, ack in items])])
        except BaseException:
            self._items[:0] = items  # keep them for the next try
            self._ready.set()
            raise

    @property
    def empty(self) -> bool:
        return not self._items


class Executor(Role):
    name = "executor"

    def __init__(
        self, bus: Bus, context: effects.EffectContext, *, consumer: str, concurrency: int = 256,
    ) -> None:
        super().__init__()
        self.bus = bus
        self.context = context
        self.consumer = consumer
        self.slots = asyncio.Semaphore(concurrency)
        self.free = concurrency  # slots not taken, for sizing reads (the semaphore keeps it private)
        self.outbox = Outbox(bus)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        flusher = asyncio.create_task(self.loop(self.outbox.flush, what="executor outbox"), name="flunq:executor-outbox")
        try:
            await self.loop(self._round, what="executor")
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            while not self.outbox.empty:
                await self.outbox.flush()
        finally:
            flusher.cancel()

    async def _round(self) -> None:
        await self.slots.acquire()  # read only when an effect can start at once
        self.slots.release()
        messages = await self.bus.read(EFFECTS, GROUP, self.consumer, count=min(max(1, self.free), 256), block=0.5)
        for message in messages:
            await self.slots.acquire()
            self.free -= 1
            task = asyncio.create_task(self._handle(message), name=f"flunq:effect:{message.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _handle(self, message: Message) -> None:
        try:
            try:
                item = decode_effect(message.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("message %s dead-lettered: undecodable effect: %s", message.id, exc)
                await self.bus.dead_letter(EFFECTS, GROUP, message, f"undecodable effect: {exc}")
                return
            fact = await self._perform(item)
            self.outbox.put(encode(WorkItem(tenant=item.tenant, execution_id=item.execution_id, fact=fact)), message.id)
        finally:
            self.free += 1
            self.slots.release()

    async def _perform(self, item: EffectItem) -> AnyFact:
        command = item.command
        try:
            result = await effects.perform(command, self.context)
        except WorkflowError as exc:
            return EffectFailed(at=now_iso(), effect_id=command.effect_id, error=exc.problem)
        return EffectCompleted(at=now_iso(), effect_id=command.effect_id, result=result)
