"""``redis://host:port/db?prefix=flunq``: a store in Redis, shared by many processes.

Every write of an execution is one Lua script call (see :mod:`flunq.store.redis_scripts`),
so it is atomic and costs one round trip. Concurrent :meth:`RedisStore.commit` calls made on
one event loop are grouped: while one pipeline is on the wire the next ones queue up and go
together in the next pipeline (``transaction=False``, each script succeeding or failing on
its own). Records are MessagePack.

Keys: ``<prefix>:<tenant>:...`` for everything of a tenant (tenant percent-encoded), plus
three keys across tenants for the sweeper and the timer role: ``<prefix>:active`` (lex
sorted set ``tenant\\0id``), ``<prefix>:timers`` (sorted set by due time, member
``tenant\\0execution\\0timer``) and ``<prefix>:leases`` (claim expiry per timer). Scripts
build some keys from their arguments, so this needs a standalone Redis (or one Cluster
slot), not a sharded Cluster.

A connection error is retried a few times (redis-py reconnects); then the call raises
:class:`~flunq.errors.BackendUnavailable`. A retried commit whose first attempt did reach
the server answers ``ConcurrencyError``: the caller reloads and finds its own step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from flunq.errors import (
    BackendUnavailable,
    ConcurrencyError,
    ConfigError,
    Conflict,
    FlunqError,
    NotFound,
    StoreError,
)
from flunq.store import common
from flunq.store import redis_scripts as lua
from flunq.store.base import (
    Commit,
    DefinitionRecord,
    ExecutionRecord,
    JournalEntry,
    ListenerRecord,
    Loaded,
    Page,
    Store,
    Timer,
)
from flunq.store.redis_batch import CommitBatcher
from flunq.store.versions import latest, version_key

_SCRIPTS = {
    name: lua.Script(body)
    for name, body in {
        "create": lua.CREATE,
        "commit": lua.COMMIT,
        "load": lua.LOAD,
        "journal": lua.JOURNAL,
        "list": lua.LIST,
        "claim": lua.CLAIM,
        "delete_definition": lua.DELETE_DEFINITION,
    }.items()
}


class _Translate:
    """Turns redis-py errors into Flunq errors at the store's boundary."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, FlunqError):
            return
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
            raise BackendUnavailable(f"redis unavailable: {exc}") from exc
        if isinstance(exc, RedisError):
            raise StoreError(f"redis: {exc}") from exc


_translate = _Translate()


def _q(part: str) -> str:
    return quote(part, safe="")


@lru_cache(maxsize=4096)
def _base(prefix: str, tenant: str) -> str:
    return f"{prefix}:{_q(tenant)}"


class RedisStore(Store):
    """A store in Redis (standalone server)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "flunq",
        client_name: str | None = None,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retries: int = 3,
        max_batch: int = 500,
    ) -> None:
        if not prefix or "\n" in prefix:
            raise ConfigError(f"bad redis key prefix {prefix!r}")
        self.prefix = prefix
        self._url = url
        self._client_options: dict[str, Any] = {
            "client_name": client_name,
            "socket_timeout": float(socket_timeout),
            "socket_connect_timeout": float(connect_timeout),
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.02), int(retries)),
        }
        self._client: Redis | None = None
        self._batcher = CommitBatcher(self._run_commits, max_batch=int(max_batch))

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """``redis://[:password@]host:port/db?prefix=flunq``; other query options go to redis-py."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {"prefix", "client_name", "max_batch", "retries"}
        merged: dict[str, Any] = {k: v for k, v in query if k in ours}
        merged.update(options)
        rest = urlencode([(k, v) for k, v in query if k not in ours])
        try:
            return cls(parts._replace(query=rest).geturl(), **merged)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad redis store option: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        # Any: redis-py types replies as ``str | bytes``; without decode_responses they are bytes.
        if self._client is None:
            raise StoreError("the redis store is not started")
        return self._client

    async def start(self) -> None:
        if self._client is not None:
            return
        try:
            client = Redis.from_url(self._url, **self._client_options)
        except ValueError as exc:
            raise ConfigError(f"bad redis URL: {exc}") from exc
        try:
            with _translate:
                for script in _SCRIPTS.values():
                    await script.load(client)
        except BaseException:
            await client.aclose()
            raise
        self._client = client

    async def close(self) -> None:
        await self._batcher.close()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def group_stats(self) -> tuple[int, int]:
        """(commit pipelines sent, commits they carried) since start."""
        return self._batcher.batches, self._batcher.commits

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        with _translate:
            return await _SCRIPTS[script](self.client, keys, args)

    # -- keys ----------------------------------------------------------------------------

    def _ekey(self, tenant: str, execution_id: str, kind: str = "e") -> str:
        return f"{_base(self.prefix, tenant)}:{kind}:{execution_id}"

    def _index_keys(
        self,
        tenant: str,
        *,
        status: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, str]:
        """The list indexes (lex sorted sets of ``created_at\\0id``) for these filters."""
        b = _base(self.prefix, tenant)
        keys = {"all": f"{b}:ix:all"}
        if status is not None:
            keys["status"] = f"{b}:ix:st:{_q(status)}"
        if namespace is not None:
            keys["namespace"] = f"{b}:ix:ns:{_q(namespace)}"
        if name is not None:
            keys["name"] = f"{b}:ix:nm:{_q(name)}"
        if namespace is not None and name is not None:
            keys["workflow"] = f"{b}:ix:wf:{_q(namespace)}:{_q(name)}"
        if correlation_id is not None:
            keys["correlation"] = f"{b}:ix:cid:{_q(correlation_id)}"
        return keys

    def _row_args(self, record: ExecutionRecord) -> list[Any]:
        """seq, row, member, ix, active member: what the scripts' ``write_row`` takes."""
        ix = self._index_keys(
            record.tenant,
            status=record.status,
            namespace=record.namespace,
            name=record.name,
            correlation_id=record.correlation_id,
        )
        return [
            record.seq,
            common.encode(record),
            f"{record.created_at}\0{record.id}",
            "\n".join(ix.values()),
            f"{record.tenant}\0{record.id}",
        ]

    # -- definitions ---------------------------------------------------------------------

    def _dkeys(self, tenant: str, namespace: str, name: str) -> tuple[str, str]:
        b = _base(self.prefix, tenant)
        return f"{b}:d:{_q(namespace)}:{_q(name)}", f"{b}:dn"

    async def put_definition(self, record: DefinitionRecord) -> DefinitionRecord:
        dkey, names = self._dkeys(record.tenant, record.namespace, record.name)
        with _translate:
            pipe = self.client.pipeline(transaction=True)
            pipe.hsetnx(dkey, record.version, common.encode(record))
            pipe.sadd(names, f"{record.namespace}\0{record.name}")
            pipe.hget(dkey, record.version)
            _, _, stored = await pipe.execute()
        old = common.DEFINITION.decode(stored)
        if old.source != record.source:
            raise Conflict(
                f"workflow {record.namespace}/{record.name} version {record.version} "
                "exists with a different document"
            )
        return old

    async def get_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord:
        dkey, _ = self._dkeys(tenant, namespace, name)
        with _translate:
            if version is None:
                versions = await self.client.hgetall(dkey)
                best = latest(v.decode() for v in versions)
                raw = None if best is None else versions[best.encode()]
            else:
                raw = await self.client.hget(dkey, version)
        if raw is None:
            what = f"{namespace}/{name}" + (f" version {version}" if version else "")
            raise NotFound(f"no workflow {what}")
        return common.DEFINITION.decode(raw)

    async def list_definitions(
        self, tenant: str, namespace: str | None = None, name: str | None = None
    ) -> list[DefinitionRecord]:
        _, names = self._dkeys(tenant, "", "")
        with _translate:
            pairs = [m.decode().split("\0", 1) for m in await self.client.smembers(names)]
            wanted = [
                (ns, nm) for ns, nm in pairs if namespace in (None, ns) and name in (None, nm)
            ]
            pipe = self.client.pipeline(transaction=False)
            for ns, nm in wanted:
                pipe.hvals(self._dkeys(tenant, ns, nm)[0])
            found = await pipe.execute() if wanted else []
        out = [common.DEFINITION.decode(raw) for rows in found for raw in rows]
        out.sort(key=lambda d: (d.namespace, d.name, version_key(d.version)))
        return out

    async def delete_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> int:
        dkey, names = self._dkeys(tenant, namespace, name)
        args = [f"{namespace}\0{name}", "1" if version is None else "0", version or ""]
        return int(await self._call("delete_definition", [dkey, names], args))

    # -- executions ----------------------------------------------------------------------

    async def create_execution(
        self,
        record: ExecutionRecord,
        first: JournalEntry,
        idempotency_key: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        common.check_new(record, first)
        t, eid = record.tenant, record.id
        keys = [self._ekey(t, eid), self._ekey(t, eid, "j"), f"{_base(self.prefix, t)}:idem"]
        keys.append(f"{self.prefix}:active")
        flags = f"{int(idempotency_key is not None)},{int(common.is_active(record))}"
        args = [flags, idempotency_key or "", eid, common.encode(first)]
        reply = await self._call("create", keys, args + self._row_args(record))
        if reply[0] == 1:
            return await self.get_execution(t, reply[1].decode()), False
        if reply[0] == 2:
            raise Conflict(f"execution {eid} exists already")
        return common.ROW.decode(common.encode(record)), True

    async def load(self, tenant: str, execution_id: str) -> Loaded:
        keys = [self._ekey(tenant, execution_id, k) for k in ("e", "s", "j")]
        reply = await self._call("load", keys, [])
        if not reply:
            raise NotFound(f"no execution {execution_id}")
        row, snap_seq, state, tail, has = reply
        return Loaded(
            record=common.ROW.decode(row),
            snapshot=bytes(state) if has == b"1" else None,
            snapshot_seq=int(snap_seq),
            tail=[common.ENTRY.decode(b) for b in tail],
        )

    def _commit_call(self, c: Commit) -> tuple[list[str], list[Any]]:
        rec = c.record
        t, eid = rec.tenant, rec.id
        b = _base(self.prefix, t)
        keys = [self._ekey(t, eid, k) for k in ("e", "j", "s")]
        keys += [f"{self.prefix}:{k}" for k in ("active", "timers", "leases")]
        keys += [f"{b}:ls", self._ekey(t, eid, "lx")]
        counts = (
            c.expected_seq,
            len(c.entries),
            len(c.timers_set),
            len(c.timers_cancel),
            len(c.listeners_set),
            len(c.listeners_cancel),
            int(c.snapshot is not None),
            int(common.is_active(rec)),
        )
        args: list[Any] = [",".join(map(str, counts)), *self._row_args(rec), c.snapshot or b""]
        args += [common.encode(e) for e in c.entries]
        for timer in c.timers_set:
            args += [f"{t}\0{eid}\0{timer.timer_id}", float(timer.due)]
        args += [f"{t}\0{eid}\0{timer_id}" for timer_id in c.timers_cancel]
        for lst in c.listeners_set:
            args += [f"{eid}\0{lst.listener_id}", common.encode(lst)]
        args += [f"{eid}\0{listener_id}" for listener_id in c.listeners_cancel]
        return keys, args

    async def commit(self, commit: Commit) -> None:
        common.check_commit(commit)
        outcome = await self._batcher.submit(commit)
        if outcome is not None:
            raise outcome

    async def commit_many(self, commits: Sequence[Commit]) -> list[BaseException | None]:
        """Queued together, so they travel in one pipeline (with any other pending commit)."""
        futures: list[asyncio.Future[BaseException | None] | BaseException] = []
        for c in commits:
            try:
                common.check_commit(c)
                futures.append(self._batcher.submit(c))
            except Exception as exc:  # a malformed commit fails alone
                futures.append(exc)
        return [f if isinstance(f, BaseException) else await f for f in futures]

    async def _run_commits(self, commits: list[Commit]) -> list[BaseException | None]:
        """One pipeline of COMMIT scripts (a second one only for scripts the server lost)."""
        script = _SCRIPTS["commit"]
        calls = [self._commit_call(c) for c in commits]
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            with _translate:
                pipe = self.client.pipeline(transaction=False)
                for i in todo:
                    keys, args = calls[i]
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                for i, reply in zip(todo, await pipe.execute(raise_on_error=False), strict=True):
                    replies[i] = reply
                todo = [i for i in todo if isinstance(replies[i], NoScriptError)]
                if not todo or attempt:
                    break
                await script.load(self.client)
        return [self._commit_outcome(c, r) for c, r in zip(commits, replies, strict=True)]

    @staticmethod
    def _commit_outcome(c: Commit, reply: Any) -> BaseException | None:
        if isinstance(reply, BaseException):
            err = StoreError(f"redis: commit of {c.record.id} failed: {reply}")
            err.__cause__ = reply
            return err
        if reply[0] == 1:
            return NotFound(f"no execution {c.record.id}")
        if reply[0] == 2:
            return ConcurrencyError(
                f"execution {c.record.id} is at seq {int(reply[1])}, not {c.expected_seq}"
            )
        return None

    async def get_execution(self, tenant: str, execution_id: str) -> ExecutionRecord:
        with _translate:
            row = await self.client.hget(self._ekey(tenant, execution_id), "row")
        if row is None:
            raise NotFound(f"no execution {execution_id}")
        return common.ROW.decode(row)

    async def list_executions(
        self,
        tenant: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        status: str | None = None,
        correlation_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        common.check_limit(limit)
        filters = self._index_keys(
            tenant,
            status=status,
            namespace=namespace,
            name=name,
            correlation_id=correlation_id,
        )
        # Walk the most selective index; a row must also be in the indexes of the other filters.
        order = ("correlation", "workflow", "name", "status", "namespace", "all")
        primary = next(kind for kind in order if kind in filters)
        covered = {primary, "all", "workflow"}
        if primary == "workflow":
            covered |= {"namespace", "name"}
        others = [key for kind, key in filters.items() if kind not in covered]
        # Members are "created_at\0id": lex order is (created_at, id) order.
        uppers = [] if until is None else [until]
        if cursor is not None:
            uppers.append("\0".join(common.decode_cursor(cursor)))
        hi = "(" + min(uppers) if uppers else "+"
        lo = "[" + since if since is not None else "-"
        args: list[Any] = [hi, lo, limit + 1, f"{_base(self.prefix, tenant)}:e:", *others]
        rows = [common.ROW.decode(r) for r in await self._call("list", [filters[primary]], args)]
        return Page(items=rows[:limit], cursor=common.next_cursor(rows, limit))

    async def read_journal(
        self, tenant: str, execution_id: str, after: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        common.check_journal_limit(limit)
        if limit == 0:
            await self.get_execution(tenant, execution_id)  # NotFound all the same
            return []
        start = max(after, 0)
        stop = -1 if limit is None else start + limit - 1
        keys = [self._ekey(tenant, execution_id), self._ekey(tenant, execution_id, "j")]
        reply = await self._call("journal", keys, [start, stop])
        if reply[0] == 0:
            raise NotFound(f"no execution {execution_id}")
        return [common.ENTRY.decode(b) for b in reply[1]]

    async def active_executions(
        self, limit: int = 1000, after: str | None = None
    ) -> list[ExecutionRecord]:
        common.check_limit(limit)
        start = common.parse_after(after)
        lo = "-" if start is None else "(" + "\0".join(start)
        with _translate:
            members = await self.client.zrangebylex(
                f"{self.prefix}:active", lo, "+", start=0, num=limit
            )
            pipe = self.client.pipeline(transaction=False)
            for m in members:
                tenant, eid = m.decode().split("\0", 1)
                pipe.hget(self._ekey(tenant, eid), "row")
            rows = await pipe.execute() if members else []
        records = [common.ROW.decode(r) for r in rows if r is not None]
        return [r for r in records if common.is_active(r)]  # it may have ended meanwhile

    # -- timers --------------------------------------------------------------------------

    async def claim_due_timers(self, now: float, limit: int, lease: float) -> list[Timer]:
        common.check_limit(limit)
        keys = [f"{self.prefix}:timers", f"{self.prefix}:leases"]
        flat = await self._call("claim", keys, [float(now), limit, float(now + lease)])
        out = []
        for member, due in zip(flat[::2], flat[1::2], strict=True):
            tenant, eid, timer_id = member.decode().split("\0", 2)
            out.append(Timer(tenant=tenant, execution_id=eid, timer_id=timer_id, due=float(due)))
        return out

    async def next_timer_due(self) -> float | None:
        with _translate:
            first = await self.client.zrange(f"{self.prefix}:timers", 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    # -- listeners -----------------------------------------------------------------------

    async def listeners(self, tenant: str) -> list[ListenerRecord]:
        with _translate:
            rows = await self.client.hvals(f"{_base(self.prefix, tenant)}:ls")
        out = [common.LISTENER.decode(r) for r in rows]
        out.sort(key=lambda x: (x.execution_id, x.listener_id))
        return out
