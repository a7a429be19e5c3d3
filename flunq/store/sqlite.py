"""``sqlite:///path``: the embedded default store, one file, durable and fast.

Durability: the database runs in WAL mode with ``synchronous=NORMAL`` by default. A commit
is then in the WAL file when its call returns, so it survives a crash or kill of the
process, which is what Flunq promises. A power loss or OS crash may lose the last few
commits (never corrupt the file). ``?synchronous=full`` also fsyncs the WAL on every
transaction; group commit (see :mod:`flunq.store.sqlite_threads`) spreads that cost over
every commit of the batch.

One process owns the file: several processes sharing one SQLite file work (SQLite locks)
but are slow; use Redis or Postgres to scale out.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flunq.errors import ConfigError, NotFound, StoreError
from flunq.store import common
from flunq.store import sqlite_ops as ops
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
from flunq.store.sqlite_threads import GroupWriter, ReaderPool
from flunq.store.versions import latest, version_key

_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}


class SQLiteStore(Store):
    """A store in one SQLite file (WAL, one group-committing writer thread, pooled readers)."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "normal",
        readers: int = 2,
        busy_timeout: float = 5.0,
        max_batch: int = 1000,
    ) -> None:
        if synchronous.lower() not in _SYNCHRONOUS:
            raise ConfigError(
                f"sqlite synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}"
            )
        self.path = path
        self._synchronous = _SYNCHRONOUS[synchronous.lower()]
        self._readers_n = int(readers)
        self._busy_ms = int(float(busy_timeout) * 1000)
        self._max_batch = int(max_batch)
        self._writer: GroupWriter | None = None
        self._readers: ReaderPool | None = None
        self._start_lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (like SQLAlchemy)."""
        parts = urlsplit(url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc == ":memory:" or path == ":memory:":
            raise ConfigError("sqlite in memory is not supported; use memory:// instead")
        if parts.netloc or not path:
            raise ConfigError(
                f"expected sqlite:///relative/path.db or sqlite:////abs.db, got {url!r}"
            )
        merged: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        merged.update(options)
        try:
            return cls(path, **merged)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad sqlite store option in {url!r}: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        if readonly:
            conn.execute("PRAGMA query_only = 1")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        conn = self._connect(readonly=False)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite: cannot use WAL mode for {self.path} (got {mode})")
            ops.create_schema(conn)
        except Exception:
            conn.close()
            raise
        return conn

    async def start(self) -> None:
        async with self._start_lock:
            if self._writer is not None:
                return
            try:
                conn = await asyncio.to_thread(self._open_writer)
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"sqlite: cannot open {self.path}: {exc}") from exc
            self._writer = GroupWriter(conn, max_batch=self._max_batch)
            self._readers = ReaderPool(partial(self._connect, readonly=True), self._readers_n)

    async def close(self) -> None:
        async with self._start_lock:
            writer, readers = self._writer, self._readers
            self._writer = self._readers = None
            if writer is not None:
                await writer.close()  # applies everything queued before it returns
            if readers is not None:
                await readers.close()

    def group_stats(self) -> tuple[int, int]:
        """(transactions committed, write operations they carried) since start."""
        w = self._writer
        return (0, 0) if w is None else (w.transactions, w.operations)

    async def _write(self, op: ops.Op) -> Any:
        if self._writer is None:
            raise StoreError("the sqlite store is not started or closed")
        (fut,) = self._writer.submit([op])
        return await fut

    async def _read(self, op: ops.Op, *, consistent: bool = False) -> Any:
        if self._readers is None:
            raise StoreError("the sqlite store is not started or closed")
        return await self._readers.run(op, consistent=consistent)

    # -- definitions ---------------------------------------------------------------------

    async def put_definition(self, record: DefinitionRecord) -> DefinitionRecord:
        row = await self._write(partial(ops.put_definition, record=record))
        return ops.definition(row)

    async def get_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord:
        rows = await self._read(
            partial(ops.get_definitions, key=(tenant, namespace, name, version))
        )
        chosen = latest(r[3] for r in rows) if version is None else version
        for r in rows:
            if r[3] == chosen:
                return ops.definition(r)
        what = f"{namespace}/{name}" + (f" version {version}" if version else "")
        raise NotFound(f"no workflow {what}")

    async def list_definitions(
        self, tenant: str, namespace: str | None = None, name: str | None = None
    ) -> list[DefinitionRecord]:
        rows = await self._read(
            partial(ops.list_definitions, tenant=tenant, ns=namespace, name=name)
        )
        out = [ops.definition(r) for r in rows]
        out.sort(key=lambda d: (d.namespace, d.name, version_key(d.version)))
        return out

    async def delete_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> int:
        return int(
            await self._write(
                partial(ops.delete_definition, key=(tenant, namespace, name, version))
            )
        )

    # -- executions ----------------------------------------------------------------------

    async def create_execution(
        self,
        record: ExecutionRecord,
        first: JournalEntry,
        idempotency_key: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        common.check_new(record, first)
        op = partial(
            ops.create_execution,
            cols=ops.execution_columns(record),
            first=common.encode(first),
            idempotency_key=idempotency_key,
        )
        existing = await self._write(op)
        if existing is not None:
            return common.ROW.decode(existing), False
        return common.ROW.decode(common.encode(record)), True

    async def load(self, tenant: str, execution_id: str) -> Loaded:
        row, snap_seq, snap, tail = await self._read(
            partial(ops.load, tenant=tenant, execution_id=execution_id), consistent=True
        )
        return Loaded(
            record=common.ROW.decode(row),
            snapshot=snap,
            snapshot_seq=snap_seq,
            tail=[common.ENTRY.decode(b) for b in tail],
        )

    async def commit(self, commit: Commit) -> None:
        common.check_commit(commit)
        await self._write(partial(ops.commit, p=ops.prepare_commit(commit)))

    async def commit_many(self, commits: Sequence[Commit]) -> list[BaseException | None]:
        """All commits go to the writer as one item, so they share one transaction."""
        if self._writer is None:
            raise StoreError("the sqlite store is not started")
        results: list[BaseException | None] = [None] * len(commits)
        queued: list[tuple[int, ops.Op]] = []
        for i, c in enumerate(commits):
            try:
                common.check_commit(c)
                queued.append((i, partial(ops.commit, p=ops.prepare_commit(c))))
            except Exception as exc:  # a malformed commit fails alone
                results[i] = exc
        futures = self._writer.submit([op for _, op in queued])
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for (i, _), outcome in zip(queued, outcomes, strict=True):
            results[i] = outcome if isinstance(outcome, BaseException) else None
        return results

    async def get_execution(self, tenant: str, execution_id: str) -> ExecutionRecord:
        row = await self._read(partial(ops.get_row, tenant=tenant, execution_id=execution_id))
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
        query = ops.ListQuery(
            tenant=tenant,
            namespace=namespace,
            name=name,
            status=status,
            correlation_id=correlation_id,
            since=since,
            until=until,
            before=common.decode_cursor(cursor) if cursor is not None else None,
            limit=limit + 1,
        )
        rows = [common.ROW.decode(b) for b in await self._read(partial(ops.list_rows, q=query))]
        return Page(items=rows[:limit], cursor=common.next_cursor(rows, limit))

    async def read_journal(
        self, tenant: str, execution_id: str, after: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        common.check_journal_limit(limit)
        op = partial(
            ops.read_journal, tenant=tenant, execution_id=execution_id, after=after, limit=limit
        )
        return [common.ENTRY.decode(b) for b in await self._read(op, consistent=True)]

    async def active_executions(
        self, limit: int = 1000, after: str | None = None
    ) -> list[ExecutionRecord]:
        common.check_limit(limit)
        op = partial(ops.active_rows, after=common.parse_after(after), limit=limit)
        return [common.ROW.decode(b) for b in await self._read(op)]

    # -- timers --------------------------------------------------------------------------

    async def claim_due_timers(self, now: float, limit: int, lease: float) -> list[Timer]:
        common.check_limit(limit)
        rows = await self._write(partial(ops.claim_timers, now=now, limit=limit, lease=lease))
        return [Timer(tenant=t, execution_id=e, timer_id=i, due=d) for t, e, i, d in rows]

    async def next_timer_due(self) -> float | None:
        due = await self._read(ops.next_due)
        return None if due is None else float(due)

    # -- listeners -----------------------------------------------------------------------

    async def listeners(self, tenant: str) -> list[ListenerRecord]:
        rows = await self._read(partial(ops.listener_rows, tenant=tenant))
        return [common.LISTENER.decode(b) for b in rows]
