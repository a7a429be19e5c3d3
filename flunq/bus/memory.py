"""``memory://``: the in-process bus of the embedded engine.

Everything lives in this process and dies with it (``shared = False``). It is the hot path
of ``flunq serve`` on the defaults, so each operation costs O(messages handled), not
O(messages kept):

- a topic keeps one list of bodies; each group only holds a cursor into it, and the list
  is cut once every group has moved past its head;
- a group's pending entries sit in an ``OrderedDict`` in delivery order. Every delivery
  uses the same ``redeliver_after``, so that is also the order in which they fall due and
  a read only looks at the front.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from flunq.bus.base import Bus, DeadLetter, Message, Subscription
from flunq.errors import BusError

#: Dead letters kept per topic; the oldest go first.
DEAD_LETTER_LIMIT = 10_000
#: Undelivered broadcasts buffered per subscriber before the oldest are dropped.
SUBSCRIBER_BUFFER = 1_000
# Cutting a list's head costs a copy of the rest, so only cut once the dead part is large
# or at least half of the list (amortised O(1) per message).
_TRIM_AT = 1_024


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (what :class:`DeadLetter` carries)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LocalSubscription(Subscription):
    """A subscription fed in-process by :meth:`deliver`; also used by the Redis bus to fan
    one server subscription out to many local listeners."""

    def __init__(
        self,
        *,
        on_start: Callable[[LocalSubscription], Awaitable[None]] | None = None,
        on_close: Callable[[LocalSubscription], Awaitable[None]] | None = None,
        limit: int = SUBSCRIBER_BUFFER,
    ) -> None:
        self._items: deque[bytes] = deque(maxlen=limit)  # maxlen drops the oldest
        self._waiter: asyncio.Future[None] | None = None
        self._on_start = on_start
        self._on_close = on_close
        self._started = on_start is None
        self._ended = False

    def deliver(self, body: bytes) -> None:
        if not self._ended:
            self._items.append(body)
            self._wake()

    def end(self) -> None:
        """End the iteration once the buffered bodies are consumed (the bus closed)."""
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def start(self) -> None:
        if self._started or self._ended:
            return
        self._started = True
        if self._on_start is not None:
            try:
                await self._on_start(self)
            except BaseException:
                self._started = False
                raise

    async def aclose(self) -> None:
        if self._ended and self._on_close is None:
            return
        self.end()
        self._items.clear()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close(self)

    async def __anext__(self) -> bytes:
        if not self._started:
            await self.start()
        while not self._items:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._items.popleft()


class _Pending:
    __slots__ = ("body", "consumer", "delivered_at", "deliveries")

    def __init__(self, body: bytes, consumer: str, delivered_at: float) -> None:
        self.body = body
        self.consumer = consumer  # kept for debugging: who holds it now
        self.delivered_at = delivered_at
        self.deliveries = 1


class _Group:
    __slots__ = ("cursor", "pending")

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor  # sequence number of the next message never delivered
        self.pending: OrderedDict[str, _Pending] = OrderedDict()


class _Topic:
    __slots__ = ("dead", "first_seq", "groups", "log", "waiter")

    def __init__(self) -> None:
        self.log: list[bytes] = []  # log[i] has sequence number first_seq + i
        self.first_seq = 1
        self.groups: dict[str, _Group] = {}
        self.dead: deque[DeadLetter] = deque(maxlen=DEAD_LETTER_LIMIT)
        self.waiter: asyncio.Future[None] | None = None

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.log)

    def group(self, name: str) -> _Group:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = _Group(self.first_seq)
        return group

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        self.waiter = None

    async def wait(self, timeout: float) -> None:
        if self.waiter is None:
            self.waiter = asyncio.get_running_loop().create_future()
        # asyncio.wait neither cancels the shared future on timeout nor creates a task.
        await asyncio.wait((self.waiter,), timeout=timeout)

    def trim(self) -> None:
        """Drop the head of the log that every group has read (pending entries keep
        their own body)."""
        if not self.groups:
            return  # keep everything for the first group to come
        done = min(group.cursor for group in self.groups.values()) - self.first_seq
        if done >= _TRIM_AT or (done > 0 and 2 * done >= len(self.log)):
            del self.log[:done]
            self.first_seq += done


class MemoryBus(Bus):
    """In-process bus on asyncio; see the module docstring."""

    shared = False

    def __init__(self, *, redeliver_after: float = 30.0, max_deliveries: int = 5) -> None:
        super().__init__(redeliver_after=redeliver_after, max_deliveries=max_deliveries)
        self._topics: dict[str, _Topic] = {}
        self._channels: dict[str, set[LocalSubscription]] = {}
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: object) -> MemoryBus:
        """``memory://`` takes no host, path or query; ``options`` go to the constructor."""
        return cls(**options)  # type: ignore[arg-type]

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for topic in self._topics.values():
            topic.wake()
        for subscriptions in self._channels.values():
            for subscription in subscriptions:
                subscription.end()
        self._channels.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("the memory bus is closed")

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic()
        return topic

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        self._check_open()
        if bodies:
            state = self._topic(topic)
            state.log.extend(bodies)
            state.wake()

    async def read(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block: float = 1.0
    ) -> list[Message]:
        self._check_open()
        if count < 1:
            raise BusError(f"read count must be >= 1, got {count}")
        state = self._topic(topic)
        pending = state.group(group)
        deadline = time.monotonic() + block
        while True:
            out = self._take(topic, state, pending, consumer, count)
            now = time.monotonic()
            if out or now >= deadline:
                return out
            # Wake up in time for the first redelivery even if nothing is published.
            wait = min(deadline - now, self.redeliver_after)
            if pending.pending:
                first = next(iter(pending.pending.values()))
                wait = min(wait, max(first.delivered_at + self.redeliver_after - now, 0.0))
            await state.wait(wait)
            if self._closed:
                return []

    def _take(
        self, topic: str, state: _Topic, group: _Group, consumer: str, count: int
    ) -> list[Message]:
        now = time.monotonic()
        out = self._redeliver(topic, state, group, consumer, count, now)
        fresh = min(count - len(out), state.next_seq - group.cursor)
        if fresh > 0:
            start = group.cursor - state.first_seq
            seq = group.cursor
            pending = group.pending
            for body in state.log[start : start + fresh]:
                mid = str(seq)
                pending[mid] = _Pending(body, consumer, now)
                out.append(Message(id=mid, topic=topic, body=body))
                seq += 1
            group.cursor = seq
            state.trim()
        return out

    def _redeliver(
        self, topic: str, state: _Topic, group: _Group, consumer: str, count: int, now: float
    ) -> list[Message]:
        out: list[Message] = []
        due_before = now - self.redeliver_after
        pending = group.pending
        while pending and len(out) < count:
            mid, entry = next(iter(pending.items()))
            if entry.delivered_at > due_before:
                break
            if entry.deliveries >= self.max_deliveries:
                del pending[mid]
                reason = f"not acked after {entry.deliveries} deliveries"
                state.dead.append(self._dead(mid, topic, entry.body, entry.deliveries, reason))
                continue
            entry.deliveries += 1
            entry.consumer = consumer
            entry.delivered_at = now
            pending.move_to_end(mid)  # keeps the dict in due order
            out.append(Message(id=mid, topic=topic, body=entry.body, deliveries=entry.deliveries))
        return out

    @staticmethod
    def _dead(mid: str, topic: str, body: bytes, deliveries: int, reason: str) -> DeadLetter:
        return DeadLetter(
            id=mid, topic=topic, body=body, deliveries=deliveries, reason=reason, at=utc_now()
        )

    async def ack(self, topic: str, group: str, ids: Sequence[str]) -> None:
        self._check_open()
        state = self._topics.get(topic)
        entries = state.groups.get(group) if state is not None else None
        if entries is not None:
            pop = entries.pending.pop
            for mid in ids:
                pop(mid, None)

    async def dead_letter(self, topic: str, group: str, message: Message, reason: str) -> None:
        self._check_open()
        state = self._topic(topic)
        entries = state.groups.get(group)
        if entries is not None:
            entries.pending.pop(message.id, None)
        state.dead.append(self._dead(message.id, topic, message.body, message.deliveries, reason))

    async def dead_letters(self, topic: str, limit: int = 100) -> list[DeadLetter]:
        self._check_open()
        state = self._topics.get(topic)
        if state is None or limit < 1:
            return []
        return list(state.dead)[:limit]

    async def broadcast(self, channel: str, body: bytes) -> None:
        self._check_open()
        for subscription in self._channels.get(channel, ()):
            subscription.deliver(body)

    def subscribe(self, channel: str) -> LocalSubscription:
        self._check_open()
        subscription = LocalSubscription(on_close=self._unsubscribe(channel))
        # Registered right away: here "from now on" is the call itself, no I/O needed.
        self._channels.setdefault(channel, set()).add(subscription)
        return subscription

    def _unsubscribe(self, channel: str) -> Callable[[LocalSubscription], Awaitable[None]]:
        async def remove(subscription: LocalSubscription) -> None:
            subscriptions = self._channels.get(channel)
            if subscriptions is not None:
                subscriptions.discard(subscription)
                if not subscriptions:
                    del self._channels[channel]

        return remove
