"""``memory://``: a store in plain dicts, for tests and throw-away runs.

It has the semantics of the durable backends (same checks, same errors, same ordering) and
keeps every row encoded, so callers can neither change a stored row through an object they
passed in nor through one they got back. Every method runs without awaiting anything in
between its reads and writes, so on one event loop each call is atomic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flunq.errors import ConcurrencyError, ConfigError, Conflict, NotFound
from flunq.store import common
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
from flunq.store.versions import latest, version_key


@dataclass
class _Execution:
    row: bytes  # encoded ExecutionRecord
    journal: list[bytes] = field(default_factory=list)  # entry seq n at index n-1
    snapshot: tuple[int, bytes] | None = None
    listeners: dict[str, bytes] = field(default_factory=dict)


class MemoryStore(Store):
    """A store that lives and dies with the process."""

    def __init__(self) -> None:
        # tenant -> (namespace, name) -> version -> encoded DefinitionRecord
        self._defs: dict[str, dict[tuple[str, str], dict[str, bytes]]] = {}
        self._execs: dict[str, dict[str, _Execution]] = {}
        self._idempotency: dict[tuple[str, str], str] = {}
        # (tenant, execution_id, timer_id) -> [due, lease_until]
        self._timers: dict[tuple[str, str, str], list[float]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryStore:
        """``memory://``; it takes no options."""
        if options or "?" in url:
            raise ConfigError("the memory store takes no options")
        return cls()

    # -- definitions ---------------------------------------------------------------------

    async def put_definition(self, record: DefinitionRecord) -> DefinitionRecord:
        versions = self._defs.setdefault(record.tenant, {}).setdefault(
            (record.namespace, record.name), {}
        )
        stored = versions.get(record.version)
        if stored is not None:
            old = common.DEFINITION.decode(stored)
            if old.source != record.source:
                raise Conflict(
                    f"workflow {record.namespace}/{record.name} version {record.version} "
                    "exists with a different document"
                )
            return old
        versions[record.version] = common.encode(record)
        return common.DEFINITION.decode(versions[record.version])

    async def get_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord:
        versions = self._defs.get(tenant, {}).get((namespace, name), {})
        chosen = latest(versions) if version is None else version
        if chosen is None or chosen not in versions:
            what = f"{namespace}/{name}" + (f" version {version}" if version else "")
            raise NotFound(f"no workflow {what}")
        return common.DEFINITION.decode(versions[chosen])

    async def list_definitions(
        self, tenant: str, namespace: str | None = None, name: str | None = None
    ) -> list[DefinitionRecord]:
        out = [
            common.DEFINITION.decode(raw)
            for (ns, nm), versions in self._defs.get(tenant, {}).items()
            if namespace in (None, ns) and name in (None, nm)
            for raw in versions.values()
        ]
        out.sort(key=lambda d: (d.namespace, d.name, version_key(d.version)))
        return out

    async def delete_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> int:
        by_name = self._defs.get(tenant, {})
        versions = by_name.get((namespace, name))
        if not versions:
            return 0
        if version is None:
            count = len(versions)
            versions.clear()
        else:
            count = 1 if versions.pop(version, None) is not None else 0
        if not versions:
            by_name.pop((namespace, name), None)
        return count

    # -- executions ----------------------------------------------------------------------

    async def create_execution(
        self,
        record: ExecutionRecord,
        first: JournalEntry,
        idempotency_key: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        common.check_new(record, first)
        execs = self._execs.setdefault(record.tenant, {})
        if idempotency_key is not None:
            existing = self._idempotency.get((record.tenant, idempotency_key))
            if existing is not None:
                return common.ROW.decode(execs[existing].row), False
        if record.id in execs:
            raise Conflict(f"execution {record.id} exists already")
        execs[record.id] = _Execution(row=common.encode(record), journal=[common.encode(first)])
        if idempotency_key is not None:
            self._idempotency[(record.tenant, idempotency_key)] = record.id
        return common.ROW.decode(execs[record.id].row), True

    def _get(self, tenant: str, execution_id: str) -> _Execution:
        ex = self._execs.get(tenant, {}).get(execution_id)
        if ex is None:
            raise NotFound(f"no execution {execution_id}")
        return ex

    async def load(self, tenant: str, execution_id: str) -> Loaded:
        ex = self._get(tenant, execution_id)
        snap_seq, snap = ex.snapshot if ex.snapshot is not None else (0, None)
        return Loaded(
            record=common.ROW.decode(ex.row),
            snapshot=snap,
            snapshot_seq=snap_seq,
            tail=[common.ENTRY.decode(raw) for raw in ex.journal[snap_seq:]],
        )

    async def commit(self, commit: Commit) -> None:
        common.check_commit(commit)
        rec = commit.record
        ex = self._get(rec.tenant, rec.id)
        if len(ex.journal) != commit.expected_seq:
            raise ConcurrencyError(
                f"execution {rec.id} is at seq {len(ex.journal)}, not {commit.expected_seq}"
            )
        ex.journal.extend(common.encode(e) for e in commit.entries)
        ex.row = common.encode(rec)
        if commit.snapshot is not None:
            ex.snapshot = (rec.seq, bytes(commit.snapshot))
        for t in commit.timers_set:
            self._timers[(rec.tenant, rec.id, t.timer_id)] = [t.due, float("-inf")]
        for timer_id in commit.timers_cancel:
            self._timers.pop((rec.tenant, rec.id, timer_id), None)
        for lst in commit.listeners_set:
            ex.listeners[lst.listener_id] = common.encode(lst)
        for listener_id in commit.listeners_cancel:
            ex.listeners.pop(listener_id, None)
        if not common.is_active(rec):
            ex.listeners.clear()  # a finished execution listens to nothing

    async def get_execution(self, tenant: str, execution_id: str) -> ExecutionRecord:
        return common.ROW.decode(self._get(tenant, execution_id).row)

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
        before = common.decode_cursor(cursor) if cursor is not None else None
        rows = [common.ROW.decode(ex.row) for ex in self._execs.get(tenant, {}).values()]
        rows = [
            r
            for r in rows
            if (before is None or (r.created_at, r.id) < before)
            and common.matches(
                r,
                namespace=namespace,
                name=name,
                status=status,
                correlation_id=correlation_id,
                since=since,
                until=until,
            )
        ]
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        rows = rows[: limit + 1]
        return Page(items=rows[:limit], cursor=common.next_cursor(rows, limit))

    async def read_journal(
        self, tenant: str, execution_id: str, after: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        common.check_journal_limit(limit)
        journal = self._get(tenant, execution_id).journal
        end = None if limit is None else max(after, 0) + limit
        return [common.ENTRY.decode(raw) for raw in journal[max(after, 0) : end]]

    async def active_executions(
        self, limit: int = 1000, after: str | None = None
    ) -> list[ExecutionRecord]:
        common.check_limit(limit)
        start = common.parse_after(after)
        keys = sorted(
            (tenant, eid)
            for tenant, execs in self._execs.items()
            for eid in execs
            if start is None or (tenant, eid) > start
        )
        out: list[ExecutionRecord] = []
        for tenant, eid in keys:
            rec = common.ROW.decode(self._execs[tenant][eid].row)
            if common.is_active(rec):
                out.append(rec)
                if len(out) == limit:
                    break
        return out

    # -- timers --------------------------------------------------------------------------

    async def claim_due_timers(self, now: float, limit: int, lease: float) -> list[Timer]:
        common.check_limit(limit)
        due = sorted((v[0], k) for k, v in self._timers.items() if v[0] <= now and v[1] <= now)[
            :limit
        ]
        for _, k in due:
            self._timers[k][1] = now + lease
        return [Timer(tenant=k[0], execution_id=k[1], timer_id=k[2], due=d) for d, k in due]

    async def next_timer_due(self) -> float | None:
        return min((v[0] for v in self._timers.values()), default=None)

    # -- listeners -----------------------------------------------------------------------

    async def listeners(self, tenant: str) -> list[ListenerRecord]:
        return [
            common.LISTENER.decode(raw)
            for _, ex in sorted(self._execs.get(tenant, {}).items())
            for _, raw in sorted(ex.listeners.items())
        ]
