"""Pieces every store backend shares: encoding, argument checks, list cursors.

Rows, journal entries and listeners are stored as MessagePack (msgspec) in every backend, so
what comes back from a store is the same whichever backend kept it (a tuple comes back as a
list, for instance).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from flunq.errors import InvalidCursor, StoreError
from flunq.store.base import (
    TERMINAL,
    Commit,
    DefinitionRecord,
    ExecutionRecord,
    JournalEntry,
    ListenerRecord,
)

_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode

ROW = msgspec.msgpack.Decoder(ExecutionRecord)
ENTRY = msgspec.msgpack.Decoder(JournalEntry)
DEFINITION = msgspec.msgpack.Decoder(DefinitionRecord)
LISTENER = msgspec.msgpack.Decoder(ListenerRecord)
_CURSOR = msgspec.msgpack.Decoder(tuple[str, str])


def encode_cursor(created_at: str, execution_id: str) -> str:
    """An opaque cursor pointing just past ``(created_at, id)`` in newest-first order."""
    raw = _encoder.encode((created_at, execution_id))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(created_at, id)`` of a cursor made by :func:`encode_cursor`; ``InvalidCursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _CURSOR.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidCursor(f"invalid page cursor {cursor!r}") from exc


def next_cursor(items: list[ExecutionRecord], limit: int) -> str | None:
    """The cursor after a page; ``items`` holds up to ``limit + 1`` rows (one look-ahead)."""
    if len(items) <= limit:
        return None
    last = items[limit - 1]
    return encode_cursor(last.created_at, last.id)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise StoreError(f"limit must be at least 1, got {limit}")


def check_journal_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise StoreError(f"journal limit must not be negative, got {limit}")


def parse_after(after: str | None) -> tuple[str, str] | None:
    """``"tenant/id"`` -> ``(tenant, id)``; tenants cannot contain ``/`` (they are URL segments)."""
    if after is None:
        return None
    tenant, sep, execution_id = after.partition("/")
    if not sep:
        raise StoreError(f"'after' must be 'tenant/execution_id', got {after!r}")
    return tenant, execution_id


def is_active(record: ExecutionRecord) -> bool:
    return record.status not in TERMINAL


def check_new(record: ExecutionRecord, first: JournalEntry) -> None:
    """Refuse a malformed :meth:`Store.create_execution` call before anything is written."""
    if record.seq != 1 or first.seq != 1:
        raise StoreError(
            f"a new execution starts at seq 1 (record.seq={record.seq}, first.seq={first.seq})"
        )


def check_commit(commit: Commit) -> None:
    """Refuse a malformed commit (a bug in the caller, not a lost race)."""
    rec = commit.record
    seqs = [e.seq for e in commit.entries]
    want = list(range(commit.expected_seq + 1, commit.expected_seq + 1 + len(seqs)))
    if seqs != want:
        raise StoreError(f"commit of {rec.id}: entry seqs {seqs} must be {want}")
    if rec.seq != commit.expected_seq + len(seqs):
        raise StoreError(
            f"commit of {rec.id}: record.seq {rec.seq} must be {commit.expected_seq + len(seqs)}"
        )
    for t in commit.timers_set:
        if (t.tenant, t.execution_id) != (rec.tenant, rec.id):
            raise StoreError(f"commit of {rec.id}: timer {t.timer_id} belongs to {t.execution_id}")
    for lst in commit.listeners_set:
        if (lst.tenant, lst.execution_id) != (rec.tenant, rec.id):
            raise StoreError(
                f"commit of {rec.id}: listener {lst.listener_id} belongs to {lst.execution_id}"
            )


def matches(
    record: ExecutionRecord,
    *,
    namespace: str | None,
    name: str | None,
    status: str | None,
    correlation_id: str | None,
    since: str | None,
    until: str | None,
) -> bool:
    """The filters of :meth:`Store.list_executions` (``since`` inclusive, ``until`` exclusive)."""
    checks: list[tuple[Any, Any]] = [
        (namespace, record.namespace),
        (name, record.name),
        (status, record.status),
        (correlation_id, record.correlation_id),
    ]
    if any(want is not None and want != got for want, got in checks):
        return False
    if since is not None and record.created_at < since:
        return False
    return not (until is not None and record.created_at >= until)
