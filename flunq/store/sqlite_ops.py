"""Schema and SQL of the SQLite store. Every function here runs on a store thread with a
connection in autocommit mode; writes run inside the writer's group transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flunq.errors import ConcurrencyError, Conflict, NotFound
from flunq.store import common
from flunq.store.base import Commit, DefinitionRecord, ExecutionRecord

Op = Callable[[sqlite3.Connection], Any]

SCHEMA_VERSION = 1

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS definitions (
        tenant TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        version TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, namespace, name, version)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS executions (
        tenant TEXT NOT NULL, id TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        version TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, seq INTEGER NOT NULL, correlation_id TEXT,
        active INTEGER NOT NULL, row BLOB NOT NULL,
        PRIMARY KEY (tenant, id))""",
    """CREATE INDEX IF NOT EXISTS executions_created
        ON executions (tenant, created_at, id)""",
    """CREATE INDEX IF NOT EXISTS executions_status
        ON executions (tenant, status, created_at, id)""",
    """CREATE INDEX IF NOT EXISTS executions_workflow
        ON executions (tenant, namespace, name, created_at, id)""",
    """CREATE INDEX IF NOT EXISTS executions_correlation
        ON executions (tenant, correlation_id, created_at, id) WHERE correlation_id IS NOT NULL""",
    # The sweeper walks active executions of all tenants: keep them in a small partial index.
    """CREATE INDEX IF NOT EXISTS executions_active ON executions (tenant, id) WHERE active = 1""",
    """CREATE TABLE IF NOT EXISTS journal (
        tenant TEXT NOT NULL, execution_id TEXT NOT NULL, seq INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (tenant, execution_id, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        tenant TEXT NOT NULL, execution_id TEXT NOT NULL, seq INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (tenant, execution_id))""",
    """CREATE TABLE IF NOT EXISTS timers (
        tenant TEXT NOT NULL, execution_id TEXT NOT NULL, timer_id TEXT NOT NULL,
        due REAL NOT NULL, lease_until REAL,
        PRIMARY KEY (tenant, execution_id, timer_id)) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS timers_due ON timers (due)""",
    """CREATE TABLE IF NOT EXISTS listeners (
        tenant TEXT NOT NULL, execution_id TEXT NOT NULL, listener_id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (tenant, execution_id, listener_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS idempotency (
        tenant TEXT NOT NULL, key TEXT NOT NULL, execution_id TEXT NOT NULL,
        PRIMARY KEY (tenant, key)) WITHOUT ROWID""",
]


def create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in _SCHEMA:
            conn.execute(stmt)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- definitions -------------------------------------------------------------------------

_DEF_COLS = "tenant, namespace, name, version, source, created_at"


def definition(row: tuple[Any, ...]) -> DefinitionRecord:
    t, ns, name, version, source, created_at = row
    return DefinitionRecord(
        tenant=t, namespace=ns, name=name, version=version, source=source, created_at=created_at
    )


def put_definition(conn: sqlite3.Connection, *, record: DefinitionRecord) -> tuple[Any, ...]:
    key = (record.tenant, record.namespace, record.name, record.version)
    old = conn.execute(
        f"SELECT {_DEF_COLS} FROM definitions "
        "WHERE tenant = ? AND namespace = ? AND name = ? AND version = ?",
        key,
    ).fetchone()
    if old is not None:
        if old[4] != record.source:
            raise Conflict(
                f"workflow {record.namespace}/{record.name} version {record.version} "
                "exists with a different document"
            )
        return tuple(old)
    row = (*key, record.source, record.created_at)
    conn.execute(f"INSERT INTO definitions ({_DEF_COLS}) VALUES (?, ?, ?, ?, ?, ?)", row)
    return row


def get_definitions(
    conn: sqlite3.Connection, *, key: tuple[str, str, str, str | None]
) -> list[tuple[Any, ...]]:
    sql = f"SELECT {_DEF_COLS} FROM definitions WHERE tenant = ? AND namespace = ? AND name = ?"
    if key[3] is None:
        return conn.execute(sql, key[:3]).fetchall()
    return conn.execute(sql + " AND version = ?", key).fetchall()


def list_definitions(
    conn: sqlite3.Connection, *, tenant: str, ns: str | None, name: str | None
) -> list[tuple[Any, ...]]:
    sql, args = f"SELECT {_DEF_COLS} FROM definitions WHERE tenant = ?", [tenant]
    if ns is not None:
        sql, args = sql + " AND namespace = ?", [*args, ns]
    if name is not None:
        sql, args = sql + " AND name = ?", [*args, name]
    return conn.execute(sql, args).fetchall()


def delete_definition(conn: sqlite3.Connection, *, key: tuple[str, str, str, str | None]) -> int:
    sql = "DELETE FROM definitions WHERE tenant = ? AND namespace = ? AND name = ?"
    if key[3] is None:
        return conn.execute(sql, key[:3]).rowcount
    return conn.execute(sql + " AND version = ?", key).rowcount


# -- executions --------------------------------------------------------------------------

_EXEC_COLS = (
    "tenant, id, namespace, name, version, status, created_at, updated_at, seq, "
    "correlation_id, active, row"
)


def execution_columns(record: ExecutionRecord) -> tuple[Any, ...]:
    """The values of ``_EXEC_COLS`` for ``record`` (encoded on the caller's thread)."""
    return (
        record.tenant,
        record.id,
        record.namespace,
        record.name,
        record.version,
        record.status,
        record.created_at,
        record.updated_at,
        record.seq,
        record.correlation_id,
        int(common.is_active(record)),
        common.encode(record),
    )


def create_execution(
    conn: sqlite3.Connection,
    *,
    cols: tuple[Any, ...],
    first: bytes,
    idempotency_key: str | None,
) -> bytes | None:
    """Insert; returns the row of the execution already started with the key, else None."""
    tenant, eid = cols[0], cols[1]
    if idempotency_key is not None:
        found = conn.execute(
            "SELECT e.row FROM idempotency i JOIN executions e "
            "ON e.tenant = i.tenant AND e.id = i.execution_id WHERE i.tenant = ? AND i.key = ?",
            (tenant, idempotency_key),
        ).fetchone()
        if found is not None:
            return bytes(found[0])
    try:
        conn.execute(f"INSERT INTO executions ({_EXEC_COLS}) VALUES ({', '.join('?' * 12)})", cols)
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"execution {eid} exists already") from exc
    conn.execute(
        "INSERT INTO journal (tenant, execution_id, seq, body) VALUES (?, ?, 1, ?)",
        (tenant, eid, first),
    )
    if idempotency_key is not None:
        conn.execute(
            "INSERT INTO idempotency (tenant, key, execution_id) VALUES (?, ?, ?)",
            (tenant, idempotency_key, eid),
        )
    return None


def get_row(conn: sqlite3.Connection, *, tenant: str, execution_id: str) -> bytes:
    found = conn.execute(
        "SELECT row FROM executions WHERE tenant = ? AND id = ?", (tenant, execution_id)
    ).fetchone()
    if found is None:
        raise NotFound(f"no execution {execution_id}")
    return bytes(found[0])


def load(
    conn: sqlite3.Connection, *, tenant: str, execution_id: str
) -> tuple[bytes, int, bytes | None, list[bytes]]:
    row = get_row(conn, tenant=tenant, execution_id=execution_id)
    snap = conn.execute(
        "SELECT seq, state FROM snapshots WHERE tenant = ? AND execution_id = ?",
        (tenant, execution_id),
    ).fetchone()
    snap_seq, state = (int(snap[0]), bytes(snap[1])) if snap is not None else (0, None)
    tail = conn.execute(
        "SELECT body FROM journal WHERE tenant = ? AND execution_id = ? AND seq > ? ORDER BY seq",
        (tenant, execution_id, snap_seq),
    ).fetchall()
    return row, snap_seq, state, [bytes(r[0]) for r in tail]


def read_journal(
    conn: sqlite3.Connection, *, tenant: str, execution_id: str, after: int, limit: int | None
) -> list[bytes]:
    get_row(conn, tenant=tenant, execution_id=execution_id)  # NotFound for unknown ids
    rows = conn.execute(
        "SELECT body FROM journal WHERE tenant = ? AND execution_id = ? AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (tenant, execution_id, after, -1 if limit is None else limit),
    ).fetchall()
    return [bytes(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class PreparedCommit:
    """A commit with everything encoded, ready for the writer thread."""

    tenant: str
    id: str
    expected_seq: int
    cols: tuple[Any, ...]
    entries: list[tuple[str, str, int, bytes]]
    snapshot: tuple[str, str, int, bytes] | None
    timers_set: list[tuple[str, str, str, float]]
    timers_cancel: list[tuple[str, str, str]]
    listeners_set: list[tuple[str, str, str, bytes]]
    listeners_cancel: list[tuple[str, str, str]]
    active: bool


def prepare_commit(c: Commit) -> PreparedCommit:
    t, eid = c.record.tenant, c.record.id
    return PreparedCommit(
        tenant=t,
        id=eid,
        expected_seq=c.expected_seq,
        cols=execution_columns(c.record),
        entries=[(t, eid, e.seq, common.encode(e)) for e in c.entries],
        snapshot=None if c.snapshot is None else (t, eid, c.record.seq, bytes(c.snapshot)),
        timers_set=[(t, eid, x.timer_id, float(x.due)) for x in c.timers_set],
        timers_cancel=[(t, eid, x) for x in c.timers_cancel],
        listeners_set=[(t, eid, x.listener_id, common.encode(x)) for x in c.listeners_set],
        listeners_cancel=[(t, eid, x) for x in c.listeners_cancel],
        active=common.is_active(c.record),
    )


# Columns a commit may change besides updated_at, seq and row, with their place in _EXEC_COLS.
_INDEXED: tuple[tuple[str, int], ...] = (
    ("namespace", 2),
    ("name", 3),
    ("version", 4),
    ("status", 5),
    ("created_at", 6),
    ("correlation_id", 9),
    ("active", 10),
)


def commit(conn: sqlite3.Connection, *, p: PreparedCommit) -> None:
    found = conn.execute(
        "SELECT seq, namespace, name, version, status, created_at, correlation_id, active"
        " FROM executions WHERE tenant = ? AND id = ?",
        (p.tenant, p.id),
    ).fetchone()
    if found is None:
        raise NotFound(f"no execution {p.id}")
    if found[0] != p.expected_seq:
        raise ConcurrencyError(f"execution {p.id} is at seq {found[0]}, not {p.expected_seq}")
    if p.entries:
        try:
            conn.executemany(
                "INSERT INTO journal (tenant, execution_id, seq, body) VALUES (?, ?, ?, ?)",
                p.entries,
            )
        except sqlite3.IntegrityError as exc:  # cannot happen after the seq check; the PK guards
            raise ConcurrencyError(f"execution {p.id}: journal seq taken") from exc
    # Setting only the columns that changed spares SQLite the index updates of the others
    # (most steps change neither the workflow, nor the status, nor the correlation id).
    changed = [
        (column, p.cols[i])
        for (column, i), old in zip(_INDEXED, found[1:], strict=True)
        if p.cols[i] != old
    ]
    sets = "".join(f", {column} = ?" for column, _ in changed)
    conn.execute(
        f"UPDATE executions SET updated_at = ?, seq = ?, row = ?{sets} WHERE tenant = ? AND id = ?",
        (p.cols[7], p.cols[8], p.cols[11], *(v for _, v in changed), p.tenant, p.id),
    )
    if p.snapshot is not None:
        conn.execute(
            "INSERT INTO snapshots (tenant, execution_id, seq, state) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (tenant, execution_id) DO UPDATE SET seq = excluded.seq,"
            " state = excluded.state",
            p.snapshot,
        )
    _apply_side_tables(conn, p)


def _apply_side_tables(conn: sqlite3.Connection, p: PreparedCommit) -> None:
    if p.timers_set:  # a re-set timer is a new timer: it forgets any claim on the old one
        conn.executemany(
            "INSERT INTO timers (tenant, execution_id, timer_id, due, lease_until)"
            " VALUES (?, ?, ?, ?, NULL) ON CONFLICT (tenant, execution_id, timer_id)"
            " DO UPDATE SET due = excluded.due, lease_until = NULL",
            p.timers_set,
        )
    if p.timers_cancel:
        conn.executemany(
            "DELETE FROM timers WHERE tenant = ? AND execution_id = ? AND timer_id = ?",
            p.timers_cancel,
        )
    if p.listeners_set:
        conn.executemany("INSERT OR REPLACE INTO listeners VALUES (?, ?, ?, ?)", p.listeners_set)
    if p.listeners_cancel:
        conn.executemany(
            "DELETE FROM listeners WHERE tenant = ? AND execution_id = ? AND listener_id = ?",
            p.listeners_cancel,
        )
    if not p.active:  # a finished execution listens to nothing
        conn.execute(
            "DELETE FROM listeners WHERE tenant = ? AND execution_id = ?", (p.tenant, p.id)
        )


@dataclass(frozen=True, slots=True)
class ListQuery:
    tenant: str
    namespace: str | None
    name: str | None
    status: str | None
    correlation_id: str | None
    since: str | None
    until: str | None
    before: tuple[str, str] | None  # (created_at, id) of the cursor
    limit: int


def list_rows(conn: sqlite3.Connection, *, q: ListQuery) -> list[bytes]:
    where, args = ["tenant = ?"], [q.tenant]
    for column, value in (
        ("namespace", q.namespace),
        ("name", q.name),
        ("status", q.status),
        ("correlation_id", q.correlation_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if q.since is not None:
        where.append("created_at >= ?")
        args.append(q.since)
    if q.until is not None:
        where.append("created_at < ?")
        args.append(q.until)
    if q.before is not None:
        where.append("(created_at, id) < (?, ?)")
        args.extend(q.before)
    sql = (
        f"SELECT row FROM executions WHERE {' AND '.join(where)}"
        " ORDER BY created_at DESC, id DESC LIMIT ?"
    )
    return [bytes(r[0]) for r in conn.execute(sql, (*args, q.limit)).fetchall()]


def active_rows(
    conn: sqlite3.Connection, *, after: tuple[str, str] | None, limit: int
) -> list[bytes]:
    sql = "SELECT row FROM executions WHERE active = 1"
    args: tuple[str, ...] = ()
    if after is not None:
        sql, args = sql + " AND (tenant, id) > (?, ?)", after
    rows = conn.execute(sql + " ORDER BY tenant, id LIMIT ?", (*args, limit)).fetchall()
    return [bytes(r[0]) for r in rows]


# -- timers and listeners ----------------------------------------------------------------


def claim_timers(
    conn: sqlite3.Connection, *, now: float, limit: int, lease: float
) -> list[tuple[str, str, str, float]]:
    rows = conn.execute(
        "SELECT tenant, execution_id, timer_id, due FROM timers"
        " WHERE due <= ? AND (lease_until IS NULL OR lease_until <= ?)"
        " ORDER BY due, tenant, execution_id, timer_id LIMIT ?",
        (now, now, limit),
    ).fetchall()
    conn.executemany(
        "UPDATE timers SET lease_until = ? WHERE tenant = ? AND execution_id = ? AND timer_id = ?",
        [(now + lease, t, e, i) for t, e, i, _ in rows],
    )
    return [(t, e, i, float(d)) for t, e, i, d in rows]


def next_due(conn: sqlite3.Connection) -> float | None:
    found = conn.execute("SELECT MIN(due) FROM timers").fetchone()
    return None if found is None else found[0]


def listener_rows(conn: sqlite3.Connection, *, tenant: str) -> list[bytes]:
    rows = conn.execute(
        "SELECT body FROM listeners WHERE tenant = ? ORDER BY execution_id, listener_id",
        (tenant,),
    ).fetchall()
    return [bytes(r[0]) for r in rows]
