"""The timer role: fires due timers (``wait``, retry delays, timeouts).

Timers live in the store, written by the worker's commits. This role claims the due ones
(claiming hides a timer for ``lease`` seconds) and sends a ``TimerFired`` fact for each to
the workers. The worker's commit of that fact deletes the timer; if the fact is lost (a
crash), the claim expires and the timer fires again, and a repeated firing is ignored by
the interpreter. Timers that fell due while nothing ran fire at the next start.
"""

from __future__ import annotations

import logging
import time

from flunq.bus.base import Bus
from flunq.interpreter.protocol import TimerFired
from flunq.interpreter.times import now_iso
from flunq.messages import WORK, WorkItem, encode
from flunq.roles.base import Role
from flunq.store.base import Store

log = logging.getLogger("flunq.timer")
CLAIM_BATCH = 500


class TimerRole(Role):
    name = "timer"

    def __init__(self, store: Store, bus: Bus, *, poll: float = 0.05, lease: float = 5.0) -> None:
        super().__init__()
        self.store = store
        self.bus = bus
        self.poll = poll
        self.lease = lease

    async def run(self) -> None:
        await self.loop(self._round, what="timer")

    async def _round(self) -> None:
        timers = await self.store.claim_due_timers(time.time(), CLAIM_BATCH, self.lease)
        if timers:
            at = now_iso()
            items = [
                encode(WorkItem(tenant=t.tenant, execution_id=t.execution_id, fact=TimerFired(at=at, timer_id=t.timer_id)))
                for t in timers
            ]
            await self.bus.publish(WORK, items)
        if len(timers) < CLAIM_BATCH:
            await self.pause(self.poll)
