"""``redis://host:port/db?prefix=flunq``: the bus on Redis Streams with consumer groups.

Keys: topic ``T`` is the stream ``<prefix>:T`` (one field ``b``: the body), its dead
letters the stream ``<prefix>:T:dead``; broadcasts use the pub/sub channel
``<prefix>:bc:<channel>``.

- ``read``: every so often (``redeliver_after / 4``, at most 5 s) an ``XAUTOCLAIM`` takes
  over entries idle for longer than ``redeliver_after``; ``XPENDING`` gives their delivery
  counts and those past ``max_deliveries`` move to the dead-letter stream (and are acked).
  Then ``XREADGROUP >``, blocking in slices so that due redeliveries are still picked up
  and ``close()`` can interrupt it.
- Retention: acked entries are not ``XDEL``-ed one by one (wrong when several groups read
  a topic) and there is no blind ``MAXLEN`` (it could drop unread work). Instead, at most
  every ``trim_every`` seconds, an ``ack`` trims the stream with ``XTRIM MINID ~`` to the
  lowest id that some group still needs (its oldest pending entry or its last delivered
  one). ``maxlen`` (off by default) adds a hard ``MAXLEN ~`` cap on top. Dead-letter
  streams keep about ``dead_maxlen`` entries.
- Groups are created at id ``0`` on first use. When the server lost them (restart
  without persistence, key deleted), the ``NOGROUP`` error makes ``read`` create them again.

Connection errors become :class:`BackendUnavailable`, other Redis errors :class:`BusError`.
redis-py reconnects by itself; a few quick retries hide a dropped connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flunq.bus.base import Bus, DeadLetter, Message
from flunq.bus.memory import LocalSubscription, utc_now
from flunq.errors import BackendError, BackendUnavailable, BusError, ConfigError

log = logging.getLogger(__name__)

#: How long ``async with bus.subscribe(...)`` waits for Redis to confirm.
SUBSCRIBE_TIMEOUT = 5.0
_BODY = b"b"


class _Topic:
    """Key names and per-process bookkeeping of one topic."""

    __slots__ = ("dead", "next_trim", "stream")

    def __init__(self, prefix: str, name: str) -> None:
        if not name or name.endswith(":dead"):
            raise BusError(f"invalid topic name {name!r} (empty or ending in ':dead')")
        self.stream = f"{prefix}:{name}"
        self.dead = f"{prefix}:{name}:dead"
        self.next_trim = 0.0


def _group_lost(exc: ResponseError) -> bool:
    """The group or its stream vanished (server restarted without data, key deleted)."""
    text = str(exc)
    return text.startswith("NOGROUP") or text.startswith("UNBLOCKED")


def _id_order(mid: bytes | str) -> tuple[int, int]:
    text = mid.decode() if isinstance(mid, bytes) else mid
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise BackendUnavailable(f"redis bus unreachable ({action}): {exc}") from exc
    except RedisError as exc:
        raise BusError(f"redis bus failed ({action}): {exc}") from exc


class RedisBus(Bus):
    """Redis Streams backend; see the module docstring."""

    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "flunq",
        redeliver_after: float = 30.0,
        max_deliveries: int = 5,
        trim_every: float = 10.0,
        maxlen: int | None = None,
        dead_maxlen: int = 10_000,
        client_name: str = "flunq-bus",
        socket_timeout: float = 15.0,
    ) -> None:
        super().__init__(redeliver_after=redeliver_after, max_deliveries=max_deliveries)
        if not prefix:
            raise ConfigError("redis bus prefix must not be empty")
        self.url = url
        self.prefix = prefix
        self.trim_every = trim_every
        self.maxlen = maxlen
        self.dead_maxlen = dead_maxlen
        self._client_name = client_name
        self._socket_timeout = socket_timeout
        self._idle_ms = max(1, int(redeliver_after * 1000))
        # Blocking reads come back at least this often to look for due redeliveries;
        # kept well under socket_timeout so a long BLOCK never looks like a dead socket.
        self._claim_every = min(redeliver_after / 4, 5.0, socket_timeout / 3)
        self._client: aioredis.Redis | None = self._connect()  # a bad URL fails here
        self._broadcasts: _Broadcasts | None = None
        self._closing: asyncio.Future[None] | None = None
        self._closed = False
        self._inflight: set[asyncio.Future[Any]] = set()
        self._topics: dict[str, _Topic] = {}
        self._groups: set[tuple[str, str]] = set()
        self._claim_cursor: dict[tuple[str, str], bytes] = {}
        self._next_claim: dict[tuple[str, str], float] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBus:
        """Take ``?prefix=`` out of the URL; the rest of it goes to redis-py as is."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = [value for key, value in query if key == "prefix"]
        rest = urlencode([(key, value) for key, value in query if key != "prefix"])
        if prefix:
            options.setdefault("prefix", prefix[-1])
        return cls(urlunsplit(parts._replace(query=rest)), **options)

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> aioredis.Redis:
        """A client (no I/O yet: redis-py connects on first use and reconnects itself)."""
        # A few quick retries hide a dropped connection; a server that stays down is
        # reported within about a second instead of redis-py's default ten retries.
        retry = Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.25), retries=3)
        try:
            return aioredis.from_url(
                self.url,
                retry=retry,
                socket_connect_timeout=2.0,
                socket_timeout=self._socket_timeout,
                socket_keepalive=True,
                client_name=self._client_name,
                # Reply shapes differ between RESP2 and RESP3 (and redis-py versions
                # default to either); the parsing here is written for RESP2.
                protocol=2,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid redis bus URL or option: {exc}") from exc

    def _redis(self) -> aioredis.Redis:
        if self._closed:
            raise BusError("the redis bus is closed")
        if self._client is None:
            self._client = self._connect()
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_future()
            self._broadcasts = _Broadcasts(self._client)
        return self._client

    async def start(self) -> None:
        self._closed = False
        client = self._redis()
        with _translated("connect"):
            await client.ping()

    async def close(self) -> None:
        self._closed = True
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)
        for command in list(self._inflight):
            command.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        broadcasts, self._broadcasts = self._broadcasts, None
        if broadcasts is not None:
            await broadcasts.close()
        client, self._client = self._client, None
        self._closing = None
        if client is not None:
            try:
                await client.aclose()
            except (RedisError, OSError) as exc:  # nothing left to save on the way out
                log.debug("closing the redis bus client failed: %s", exc)
        self._groups.clear()

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(self.prefix, name)
        return topic

    # -- publish / read ----------------------------------------------------------------

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        client = self._redis()
        stream = self._topic(topic).stream
        if not bodies:
            return
        with _translated("publish"):
            if len(bodies) == 1:
                await client.xadd(stream, {_BODY: bodies[0]}, maxlen=self.maxlen)
                return
            pipe = client.pipeline(transaction=False)
            for body in bodies:
                pipe.xadd(stream, {_BODY: body}, maxlen=self.maxlen)
            await pipe.execute()

    async def read(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block: float = 1.0
    ) -> list[Message]:
        self._redis()
        if count < 1:
            raise BusError(f"read count must be >= 1, got {count}")
        state = self._topic(topic)
        deadline = time.monotonic() + block
        recreated = False
        while True:
            try:
                with _translated("read"):
                    out = await self._read_once(topic, state, group, consumer, count, deadline)
            except BackendError as exc:
                if self._closed:
                    return []  # close() pulled the connection from under this read
                lost = isinstance(exc.__cause__, ResponseError) and _group_lost(exc.__cause__)
                if recreated or not lost:
                    raise
                # Once per read: recreate the group and go on, without looping on it.
                recreated = True
                self._groups.discard((state.stream, group))
                continue
            if out or self._closed or time.monotonic() >= deadline:
                return out

    async def _read_once(
        self, topic: str, state: _Topic, group: str, consumer: str, count: int, deadline: float
    ) -> list[Message]:
        await self._ensure_group(state.stream, group)
        out: list[Message] = []
        if time.monotonic() >= self._next_claim.get((state.stream, group), 0.0):
            out = await self._claim(topic, state, group, consumer, count)
        if len(out) < count:
            wait = 0.0 if out else min(deadline - time.monotonic(), self._claim_every)
            out += await self._read_new(
                topic, state.stream, group, consumer, count - len(out), wait
            )
        return out

    async def _ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            # From 0: what was published before the first consumer came is not lost.
            await self._redis().xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
        self._groups.add((stream, group))
        self._claim_cursor.pop((stream, group), None)

    async def _read_new(
        self, topic: str, stream: str, group: str, consumer: str, count: int, wait: float
    ) -> list[Message]:
        client = self._redis()
        streams: dict[Any, Any] = {stream: ">"}
        # redis-py types replies as unions over protocol versions; ours is RESP2.
        reply: Any = await client.xreadgroup(group, consumer, streams, count=count)
        closing = self._closing
        if not reply and wait >= 0.001 and closing is not None and not closing.done():
            block_ms = max(1, int(wait * 1000))
            reply = await self._interruptible(
                client.xreadgroup(group, consumer, streams, count=count, block=block_ms), closing
            )
        if not reply:
            return []
        return [
            Message(id=_text(mid), topic=topic, body=(fields or {}).get(_BODY, b""))
            for _stream, entries in reply
            for mid, fields in entries
        ]

    async def _interruptible(self, command: Awaitable[Any], closing: asyncio.Future[None]) -> Any:
        """Run a blocking command; ``None`` when :meth:`close` comes first."""
        task = asyncio.ensure_future(command)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            await asyncio.wait((task, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                # Cancelling makes redis-py drop that connection, so no reply is left behind.
                task.cancel()
        return task.result() if task.done() and not task.cancelled() else None

    # -- redelivery and dead letters ---------------------------------------------------

    async def _claim(
        self, topic: str, state: _Topic, group: str, consumer: str, count: int
    ) -> list[Message]:
        client = self._redis()
        key = (state.stream, group)
        start = self._claim_cursor.get(key, b"0-0")
        reply = await client.xautoclaim(
            state.stream, group, consumer, self._idle_ms, start, count=count
        )
        cursor, entries = reply[0], [(mid, f) for mid, f in reply[1] if f is not None]
        self._claim_cursor[key] = cursor
        # More may be due when the scan stopped early; else look again after a while.
        more = len(entries) >= count or _id_order(cursor) != (0, 0)
        self._next_claim[key] = time.monotonic() + (0.0 if more else self._claim_every)
        if not entries:
            return []
        pipe = client.pipeline(transaction=False)
        for mid, _fields in entries:
            pipe.xpending_range(state.stream, group, min=mid, max=mid, count=1)
        rows = await pipe.execute()
        out: list[Message] = []
        dead: list[DeadLetter] = []
        for (mid, fields), row in zip(entries, rows, strict=True):
            if not row:
                continue  # acked by its previous owner in the meantime
            deliveries = int(row[0]["times_delivered"])  # already counts this claim
            body = fields.get(_BODY, b"")
            if deliveries <= self.max_deliveries:
                out.append(Message(id=_text(mid), topic=topic, body=body, deliveries=deliveries))
                continue
            reason = f"not acked after {deliveries - 1} deliveries"
            dead.append(self._dead(_text(mid), topic, body, deliveries - 1, reason))
        if dead:
            await self._bury(state, group, dead)
        return out

    @staticmethod
    def _dead(mid: str, topic: str, body: bytes, deliveries: int, reason: str) -> DeadLetter:
        return DeadLetter(
            id=mid, topic=topic, body=body, deliveries=deliveries, reason=reason, at=utc_now()
        )

    async def _bury(self, state: _Topic, group: str, letters: Sequence[DeadLetter]) -> None:
        """Add to the dead-letter stream and ack, in one MULTI so neither half is lost."""
        pipe = self._redis().pipeline(transaction=True)
        for letter in letters:
            fields: dict[bytes | str, bytes | str | int] = {
                "id": letter.id,
                _BODY: letter.body,
                "deliveries": letter.deliveries,
                "reason": letter.reason,
                "at": letter.at,
                "group": group,
            }
            pipe.xadd(state.dead, fields, maxlen=self.dead_maxlen)  # type: ignore[arg-type]
        pipe.xack(state.stream, group, *[letter.id for letter in letters])
        await pipe.execute()

    async def dead_letter(self, topic: str, group: str, message: Message, reason: str) -> None:
        state = self._topic(topic)
        letter = self._dead(message.id, topic, message.body, message.deliveries, reason)
        with _translated("dead_letter"):
            await self._bury(state, group, [letter])

    async def dead_letters(self, topic: str, limit: int = 100) -> list[DeadLetter]:
        client = self._redis()
        if limit < 1:
            return []
        with _translated("dead_letters"):
            rows: Any = await client.xrange(self._topic(topic).dead, count=limit)
        return [
            DeadLetter(
                id=_text(fields.get(b"id", mid)),
                topic=topic,
                body=fields.get(_BODY, b""),
                deliveries=int(fields.get(b"deliveries", 0)),
                reason=_text(fields.get(b"reason", b"")),
                at=_text(fields.get(b"at", b"")),
            )
            for mid, fields in rows
        ]

    async def deliver(
        self,
        outgoing: Mapping[str, Sequence[bytes]],
        acks: Sequence[tuple[str, str, Sequence[str]]] = (),
        broadcasts: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """One MULTI/EXEC round trip: the XADDs, then the XACKs, then the PUBLISHes."""
        client = self._redis()
        pipe = client.pipeline(transaction=True)
        for topic, bodies in outgoing.items():
            stream = self._topic(topic).stream
            for body in bodies:
                pipe.xadd(stream, {_BODY: body}, maxlen=self.maxlen)
        for topic, group, ids in acks:
            if ids:
                pipe.xack(self._topic(topic).stream, group, *ids)
        for channel, body in broadcasts:
            pipe.publish(self._channel(channel), body)
        if not len(pipe):
            return
        with _translated("deliver"):
            await pipe.execute()
        for topic, _, _ in acks:
            await self._maybe_trim(self._topic(topic))

    # -- ack and retention -------------------------------------------------------------

    async def ack(self, topic: str, group: str, ids: Sequence[str]) -> None:
        client = self._redis()
        state = self._topic(topic)
        if ids:
            with _translated("ack"):
                await client.xack(state.stream, group, *ids)
        await self._maybe_trim(state)

    async def _maybe_trim(self, state: _Topic) -> None:
        now = time.monotonic()
        if now >= state.next_trim:
            state.next_trim = now + self.trim_every
            try:
                await self._trim(state.stream)
            except (RedisError, OSError) as exc:  # retention can wait for the next round
                log.warning("trimming %s failed: %s", state.stream, exc)

    async def _trim(self, stream: str) -> None:
        """Drop the entries that no group needs any more (XTRIM MINID ~)."""
        client = self._redis()
        try:
            groups = await client.xinfo_groups(stream)
        except ResponseError:
            return  # no such stream
        if not groups:
            return
        pipe = client.pipeline(transaction=False)
        for info in groups:
            pipe.xpending(stream, info["name"])
        summaries = await pipe.execute()
        needed = [
            summary["min"] if summary["pending"] else info["last-delivered-id"]
            for info, summary in zip(groups, summaries, strict=True)
        ]
        floor = min(needed, key=_id_order)
        if _id_order(floor) > (0, 0):
            await client.xtrim(stream, minid=floor, approximate=True)

    # -- broadcast ---------------------------------------------------------------------

    def _channel(self, channel: str) -> bytes:
        return f"{self.prefix}:bc:{channel}".encode()

    async def broadcast(self, channel: str, body: bytes) -> None:
        client = self._redis()
        with _translated("broadcast"):
            await client.publish(self._channel(channel), body)

    def subscribe(self, channel: str) -> LocalSubscription:
        self._redis()
        assert self._broadcasts is not None
        return self._broadcasts.subscription(self._channel(channel))


class _Broadcasts:
    """All subscriptions of one bus share a single pub/sub connection: a reader task
    hands each message to the local subscriptions of its channel (one connection per
    dashboard stream would not scale)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._local: dict[bytes, set[LocalSubscription]] = {}
        self._confirm: dict[bytes, asyncio.Future[None]] = {}

    def subscription(self, channel: bytes) -> LocalSubscription:
        async def start(sub: LocalSubscription) -> None:
            await self._add(channel, sub)

        async def close(sub: LocalSubscription) -> None:
            await self._remove(channel, sub)

        return LocalSubscription(on_start=start, on_close=close)

    async def _add(self, channel: bytes, sub: LocalSubscription) -> None:
        subs = self._local.setdefault(channel, set())
        subs.add(sub)
        if len(subs) > 1 and channel not in self._confirm:
            return  # the channel is live already
        try:
            with _translated("subscribe"):
                await self._subscribe(channel)
        except BaseException:
            await self._remove(channel, sub)
            raise

    async def _subscribe(self, channel: bytes) -> None:
        confirmed = self._confirm.get(channel)
        if confirmed is None:
            confirmed = asyncio.get_running_loop().create_future()
            self._confirm[channel] = confirmed
            if self._pubsub is None:
                self._pubsub = self._client.pubsub()
            await self._pubsub.subscribe(channel)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_loop(self._pubsub))
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            raise BackendUnavailable("redis did not confirm a subscription in time") from None

    async def _remove(self, channel: bytes, sub: LocalSubscription) -> None:
        subs = self._local.get(channel)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if subs:
            return
        del self._local[channel]
        self._confirm.pop(channel, None)
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError) as exc:  # messages for it are just ignored
                log.debug("unsubscribing from %r failed: %s", channel, exc)

    async def _read_loop(self, pubsub: PubSub) -> None:
        delay = 0.05
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                # redis-py reconnects and subscribes again on the next read; just pace it.
                log.warning("redis bus broadcast connection lost: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, channel = message.get("type"), message.get("channel")
        if not isinstance(channel, bytes):
            return
        if kind == "subscribe":
            confirmed = self._confirm.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif kind == "message":
            for sub in tuple(self._local.get(channel, ())):
                sub.deliver(message["data"])

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (RedisError, OSError) as exc:
                log.debug("closing the redis pub/sub connection failed: %s", exc)
        for subs in self._local.values():
            for sub in subs:
                sub.end()
        self._local.clear()
        for confirmed in self._confirm.values():
            confirmed.cancel()
        self._confirm.clear()
