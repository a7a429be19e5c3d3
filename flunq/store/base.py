"""The store: where executions live. Contract of every backend.

A store keeps, per tenant:

- **definitions**: workflow documents, one row per (namespace, name, version), with their
  source text;
- **executions**: an index row per execution (:class:`ExecutionRecord`: status, workflow,
  times, correlation id, output or error) and its **journal**, an append-only list of
  :class:`JournalEntry` numbered 1, 2, 3... with no gaps; ``(execution, seq)`` is unique;
- a **snapshot** per execution: the interpreter state after some journal entry (a cache:
  replaying the journal from 1 gives the same state);
- **timers** (due times of ``wait``, retries, timeouts), **listeners** (event filters of
  executions waiting in ``listen``) and **idempotency keys** of execution starts.

The one write path for a running execution is :meth:`Store.commit`: it appends journal
entries *only if* the journal still ends at ``expected_seq`` (else
:class:`~flunq.errors.ConcurrencyError` and nothing is written) and, in the same atomic
operation, replaces the snapshot and the index row and applies the timer and listener
changes. Two workers racing on one execution: one wins, the other reloads.

Every method may raise :class:`~flunq.errors.BackendUnavailable` when the server cannot be
reached; backends translate their driver's errors at this boundary and never let them
through. Tenants never see each other's rows: every read takes the tenant and a row of
another tenant is :class:`~flunq.errors.NotFound`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import msgspec

TERMINAL = frozenset({"completed", "faulted", "cancelled"})
ACTIVE = frozenset({"pending", "running", "waiting", "suspended"})


class DefinitionRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    tenant: str
    namespace: str
    name: str
    version: str
    source: str  # the document as the user sent it (YAML or JSON text)
    created_at: str


class ExecutionRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The index row of an execution, kept in step with the journal by every commit."""

    tenant: str
    id: str
    namespace: str
    name: str
    version: str
    status: str  # pending, running, waiting, suspended, completed, faulted, cancelled
    created_at: str
    updated_at: str
    seq: int = 0  # last journal entry
    correlation_id: str | None = None
    parent_id: str | None = None  # execution that started this one (run: workflow)
    parent_effect: str | None = None  # effect id in the parent to report the end to
    ended_at: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None


class JournalEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One journal line: a fact fed to the interpreter, or a lifecycle event it produced.

    ``data`` is the msgspec-encodable body: for ``kind="fact"`` the fact (see
    ``flunq.interpreter.protocol``), for ``kind="event"`` the CloudEvent.
    """

    seq: int
    kind: str  # "fact" | "event"
    type: str  # fact tag (``effect.completed``) or CloudEvent type
    at: str
    data: Any


class Timer(msgspec.Struct, kw_only=True, frozen=True):
    tenant: str
    execution_id: str
    timer_id: str
    due: float  # epoch seconds


class ListenerRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    tenant: str
    execution_id: str
    listener_id: str
    filters: list[dict[str, Any]]
    created_at: str


class Commit(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One atomic step of one execution (see :meth:`Store.commit`)."""

    record: ExecutionRecord  # the new index row; ``record.seq`` = last appended seq
    expected_seq: int  # the journal must end here for the commit to apply
    entries: list[JournalEntry] = []  # seqs expected_seq+1, +2, ... in order
    snapshot: bytes | None = None  # state after the last entry; None keeps the old one
    timers_set: list[Timer] = []  # upsert by (execution, timer_id)
    timers_cancel: list[str] = []  # timer ids of this execution to delete
    listeners_set: list[ListenerRecord] = []
    listeners_cancel: list[str] = []  # listener ids of this execution to delete


class Loaded(msgspec.Struct, kw_only=True):
    record: ExecutionRecord
    snapshot: bytes | None  # None: replay the journal from 1
    snapshot_seq: int  # the journal seq the snapshot reflects (0 without snapshot)
    tail: list[JournalEntry]  # entries after ``snapshot_seq``, in order


class Page(msgspec.Struct, kw_only=True):
    items: list[ExecutionRecord]
    cursor: str | None  # pass back to get the next page; None at the end


class Store(ABC):
    """Contract of every store backend (memory, SQLite, Redis, Postgres)."""

    async def start(self) -> None:  # noqa: B027 - a backend with nothing to connect keeps it
        """Connect and create the schema if needed. Idempotent."""

    async def close(self) -> None:  # noqa: B027
        """Flush pending writes and release connections. Idempotent."""

    # -- definitions ---------------------------------------------------------------------

    @abstractmethod
    async def put_definition(self, record: DefinitionRecord) -> DefinitionRecord:
        """Register a version. Same source again: returns the stored row (idempotent).

        A different source under an existing (namespace, name, version): ``Conflict``.
        """

    @abstractmethod
    async def get_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord:
        """One version; ``version=None`` means the highest semantic version. ``NotFound``."""

    @abstractmethod
    async def list_definitions(
        self, tenant: str, namespace: str | None = None, name: str | None = None
    ) -> list[DefinitionRecord]:
        """Sorted by namespace, name, then semantic version."""

    @abstractmethod
    async def delete_definition(
        self, tenant: str, namespace: str, name: str, version: str | None = None
    ) -> int:
        """Delete one version, or all versions when ``version`` is None. Returns how many."""

    # -- executions ----------------------------------------------------------------------

    @abstractmethod
    async def create_execution(
        self,
        record: ExecutionRecord,
        first: JournalEntry,
        idempotency_key: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Create the index row and journal entry 1 atomically.

        With an ``idempotency_key`` already used by this tenant, nothing is written and the
        existing execution is returned with ``False``; else the new one with ``True``.
        ``record.seq`` must be 1 and ``first.seq`` 1 (else ``StoreError``). An id that
        exists already (without a known idempotency key) is a ``Conflict``.
        """

    @abstractmethod
    async def load(self, tenant: str, execution_id: str) -> Loaded:
        """Index row, latest snapshot and the journal entries after it. ``NotFound``."""

    @abstractmethod
    async def commit(self, commit: Commit) -> None:
        """Apply one step atomically, or raise ``ConcurrencyError`` and change nothing.

        ``NotFound`` for an unknown execution. A malformed commit (entry seqs not
        ``expected_seq + 1, + 2...``, ``record.seq`` not the last of them, a timer or listener
        of another execution) is a bug of the caller: ``StoreError``, never
        ``ConcurrencyError``. A commit whose record is terminal also drops every listener
        of the execution (an ended execution listens to nothing); its timers stay until
        cancelled.
        """

    async def commit_many(self, commits: Sequence[Commit]) -> list[BaseException | None]:
        """Apply several commits (of different executions) with as few round trips as the
        backend allows; each succeeds or fails on its own. Returns, per commit, ``None``
        or the exception it raised. Backends override this to group writes."""
        results: list[BaseException | None] = []
        for c in commits:
            try:
                await self.commit(c)
                results.append(None)
            except Exception as exc:  # each commit fails on its own
                results.append(exc)
        return results

    @abstractmethod
    async def get_execution(self, tenant: str, execution_id: str) -> ExecutionRecord:
        """The index row. ``NotFound``."""

    @abstractmethod
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
        """Newest first (by ``created_at``, then id). ``since`` (inclusive) and ``until``
        (exclusive) bound ``created_at``, compared as strings (one ISO 8601 UTC format).
        ``cursor`` comes from the previous :class:`Page`; rows created after the first page
        do not shift later pages. An unreadable cursor raises ``InvalidCursor``."""

    @abstractmethod
    async def read_journal(
        self, tenant: str, execution_id: str, after: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        """Entries with ``seq > after`` in order. ``NotFound`` for an unknown execution."""

    @abstractmethod
    async def active_executions(
        self, limit: int = 1000, after: str | None = None
    ) -> list[ExecutionRecord]:
        """Executions of every tenant whose status is not terminal, ordered by (tenant, id),
        starting after the ``tenant/id`` key ``after``: the sweeper walks them on recovery."""

    # -- timers --------------------------------------------------------------------------

    @abstractmethod
    async def claim_due_timers(self, now: float, limit: int, lease: float) -> list[Timer]:
        """Timers with ``due <= now`` not claimed in the last ``lease`` seconds, oldest due
        first; claiming hides them for ``lease`` seconds (a timer whose firing was lost
        comes back after that). A timer is deleted only by a commit's ``timers_cancel``."""

    @abstractmethod
    async def next_timer_due(self) -> float | None:
        """The earliest due time of all timers (claimed or not), or None."""

    # -- listeners -----------------------------------------------------------------------

    @abstractmethod
    async def listeners(self, tenant: str) -> list[ListenerRecord]:
        """Every listener of the tenant's active executions."""
