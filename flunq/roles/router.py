"""The event router (part of the worker role): hands CloudEvents to listening executions.

Reads the ``events`` topic (events emitted by workflows, and later the API's ingress),
matches each against the listeners of the event's tenant, and sends an ``EventReceived``
fact to every execution with a matching listener. The listening task re-checks the match
(correlation included), so a loose match here costs a little work, never a wrong result.
"""

from __future__ import annotations

import logging

import msgspec

from flunq.bus.base import Bus, Message
from flunq.interpreter.events import correlation_values, filter_matches
from flunq.interpreter.protocol import EventReceived
from flunq.interpreter.times import now_iso
from flunq.messages import EVENTS, WORK, EventItem, WorkItem, decode_event, encode
from flunq.roles.base import Role
from flunq.store.base import ListenerRecord, Store

log = logging.getLogger("flunq.router")
GROUP = "routers"


def listener_matches(listener: ListenerRecord, event: dict) -> bool:
    for flt in listener.filters:
        if not filter_matches(flt, event):
            continue
        expect = flt.get("expect") or {}
        values = correlation_values(flt, event) if expect else {}
        if values is not None and all(values.get(k) == v for k, v in expect.items()):
            return True
    return False


class Router(Role):
    name = "router"

    def __init__(self, store: Store, bus: Bus, *, consumer: str) -> None:
        super().__init__()
        self.store = store
        self.bus = bus
        self.consumer = consumer

    async def run(self) -> None:
        await self.loop(self._round, what="event router")

    async def _round(self) -> None:
        messages = await self.bus.read(EVENTS, GROUP, self.consumer, count=256, block=0.5)
        if not messages:
            return
        deliveries: list[bytes] = []
        for message in messages:
            item = await self._decode(message)
            if item is not None:
                deliveries.extend(await self._route(item))
        await self.bus.deliver({WORK: deliveries}, [(EVENTS, GROUP, [m.id for m in messages])])

    async def _decode(self, message: Message) -> EventItem | None:
        try:
            return decode_event(message.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("message %s dead-lettered: undecodable event: %s", message.id, exc)
            await self.bus.dead_letter(EVENTS, GROUP, message, f"undecodable event: {exc}")
            return None

    async def _route(self, item: EventItem) -> list[bytes]:
        at = now_iso()
        return [
            encode(WorkItem(
                tenant=item.tenant, execution_id=listener.execution_id,
                fact=EventReceived(at=at, listener_id=listener.listener_id, event=item.event),
            ))
            for listener in await self.store.listeners(item.tenant)
            if listener_matches(listener, item.event)
        ]
