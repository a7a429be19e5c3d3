"""The bus: how roles hand work to each other. Contract of every backend.

A **topic** is a durable (as durable as the backend) queue of opaque byte messages.
Consumers read it in a **group**: each message goes to one consumer of the group, and is
delivered again, to any consumer of the group, until that consumer **acks** it. So delivery
is at least once; handlers must be idempotent (Flunq's are: facts carry effect ids).

- :meth:`Bus.read` returns new messages and also messages that some consumer of the group
  took more than ``redeliver_after`` seconds ago without acking (its process died or hung),
  with ``deliveries`` counting how often the message was handed out.
- A message is handed out at most ``max_deliveries`` times: when it falls due once more,
  it moves to the topic's **dead letters** instead (see :meth:`dead_letters`; their
  ``deliveries`` says how often it was handed out). A consumer that cannot even decode a
  message calls :meth:`dead_letter` itself.
- A group is created on its first :meth:`read` and starts at the oldest message the topic
  still keeps, so messages published before any consumer existed are not lost. Backends
  may drop messages once every existing group has received them, so a group that must
  see everything reads (and so creates itself) before the messages are published.
- :meth:`broadcast` / :meth:`subscribe` are a separate, *non-durable* fan-out channel for
  notifications (an execution changed): every subscriber gets every message published
  while it listens, nothing is kept. A subscriber that falls far behind loses the oldest
  notifications rather than making the bus buffer without bound.

Backends translate their driver's errors into :class:`~flunq.errors.BusError` or
:class:`~flunq.errors.BackendUnavailable` and reconnect on their own when the server comes
back.

After :meth:`Bus.close`, reads blocked in the backend return ``[]`` and subscriptions end;
other calls raise :class:`~flunq.errors.BusError` until :meth:`Bus.start` is called again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Self

import msgspec

from flunq.errors import ConfigError


class Message(msgspec.Struct, kw_only=True, frozen=True):
    id: str  # backend-assigned, unique within the topic
    topic: str
    body: bytes
    deliveries: int = 1


class DeadLetter(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    topic: str
    body: bytes
    deliveries: int
    reason: str
    at: str  # ISO 8601 UTC


class Subscription(AsyncIterator[bytes]):
    """What :meth:`Bus.subscribe` returns: the bodies broadcast on one channel.

    Use it as an async context manager: ``async with bus.subscribe(ch) as sub:`` returns
    once the subscription is live on the backend, so anything broadcast after that point
    reaches it (needed to read a state and then follow its changes without a gap). Plain
    ``async for body in bus.subscribe(ch)`` works too, but a backend that needs I/O to
    subscribe only starts listening at the first iteration. Iteration ends when the
    subscription or the bus is closed.
    """

    @abstractmethod
    async def start(self) -> None:
        """Start listening; returns once the backend confirmed it. Idempotent."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop listening and end the iteration. Idempotent."""

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Bus(ABC):
    """Contract of every bus backend (memory, Redis Streams, NATS JetStream, RabbitMQ...)."""

    #: Whether other processes can see this bus (``memory://`` cannot).
    shared: bool = True

    def __init__(self, *, redeliver_after: float = 30.0, max_deliveries: int = 5) -> None:
        # Checked here once so that a bad setting fails at start-up, not in a read loop.
        if not (isinstance(redeliver_after, int | float) and redeliver_after > 0):
            raise ConfigError(f"bus redeliver_after must be > 0 seconds, got {redeliver_after!r}")
        if not (isinstance(max_deliveries, int) and max_deliveries >= 1):
            raise ConfigError(f"bus max_deliveries must be an integer >= 1, got {max_deliveries!r}")
        self.redeliver_after = redeliver_after
        self.max_deliveries = max_deliveries

    async def start(self) -> None:  # noqa: B027 - a default, not abstract
        """Connect. Idempotent."""

    async def close(self) -> None:  # noqa: B027 - a default, not abstract
        """Release connections; pending reads return. Idempotent."""

    @abstractmethod
    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        """Append messages to a topic, in order, in as few round trips as possible.
        Returns once the backend has accepted them."""

    @abstractmethod
    async def read(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block: float = 1.0
    ) -> list[Message]:
        """Up to ``count`` messages for this consumer: redeliveries due first, then new ones.
        Waits up to ``block`` seconds when there is none; returns ``[]`` on timeout."""

    @abstractmethod
    async def ack(self, topic: str, group: str, ids: Sequence[str]) -> None:
        """Mark messages done for the group; acking twice or an unknown id is harmless."""

    async def deliver(
        self,
        outgoing: Mapping[str, Sequence[bytes]],
        acks: Sequence[tuple[str, str, Sequence[str]]] = (),
        broadcasts: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Publish to several topics, then ack ``(topic, group, ids)``, then broadcast.

        The hand-off of a role that consumed messages and produced others: backends do it
        in as few round trips as they can, but never ack before the publishes are accepted
        (if publishing fails, nothing is acked and the consumed messages come back)."""
        for topic, bodies in outgoing.items():
            if bodies:
                await self.publish(topic, bodies)
        for topic, group, ids in acks:
            if ids:
                await self.ack(topic, group, ids)
        for channel, body in broadcasts:
            await self.broadcast(channel, body)

    @abstractmethod
    async def dead_letter(self, topic: str, group: str, message: Message, reason: str) -> None:
        """Move a message to the dead letters now (and ack it)."""

    @abstractmethod
    async def dead_letters(self, topic: str, limit: int = 100) -> list[DeadLetter]:
        """The topic's dead letters, oldest first."""

    @abstractmethod
    async def broadcast(self, channel: str, body: bytes) -> None:
        """Non-durable fan-out to current subscribers of ``channel``."""

    @abstractmethod
    def subscribe(self, channel: str) -> Subscription:
        """Messages broadcast on ``channel`` from the time the subscription is live (see
        :class:`Subscription`) until it is closed."""
