"""The threads behind the SQLite store: one group-committing writer and a pool of readers.

SQLite allows one writer at a time, and each transaction commit costs a WAL write (and an
fsync with ``synchronous=FULL``). So all writes go to one thread owning the write
connection: it takes *everything* queued, applies it in ONE transaction with a SAVEPOINT
per operation (an operation that fails is rolled back alone) and commits once. Under load a
single commit then carries hundreds of operations; each caller's future still gets its own
result or error. Readers use their own connections (WAL lets them read while the writer
writes) on a small thread pool, so no SQLite call ever blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flunq.errors import BackendUnavailable, FlunqError, StoreError

Op = Callable[[sqlite3.Connection], Any]


def translate(exc: BaseException) -> BaseException:
    """The Flunq error to report for ``exc`` (raised by an operation or by SQLite)."""
    if isinstance(exc, FlunqError):
        return exc
    msg = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg):
        err: FlunqError = BackendUnavailable(f"sqlite: {exc}")
    elif isinstance(exc, sqlite3.Error):
        err = StoreError(f"sqlite: {exc}")
    else:
        err = StoreError(f"sqlite store failed: {exc!r}")
    err.__cause__ = exc
    return err


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:  # the connection is broken; the next BEGIN will say so
        pass


class _Job:
    __slots__ = ("future", "loop", "op")

    def __init__(self, op: Op, loop: asyncio.AbstractEventLoop) -> None:
        self.op = op
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in items:
        if fut.done():  # the caller was cancelled; the write happened anyway
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class GroupWriter:
    """Owns the write connection; applies queued operations in group transactions."""

    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 1000) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # makes "closed?" + enqueue atomic against close()
        self._closed = False
        #: transactions committed and operations applied so far (to see grouping at work)
        self.transactions = 0
        self.operations = 0
        self._thread = threading.Thread(target=self._run, name="flunq-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, ops: list[Op]) -> list[asyncio.Future[Any]]:
        """Queue ``ops`` to run in one transaction; one future per operation."""
        loop = asyncio.get_running_loop()
        jobs = [_Job(op, loop) for op in ops]
        with self._lock:
            if self._closed:
                raise StoreError("the sqlite store is closed")
            self._queue.put(jobs)
        return [j.future for j in jobs]

    async def close(self) -> None:
        """Apply everything queued so far, then stop the thread and close the connection."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            while self._take_and_apply():
                pass
        finally:
            self._conn.close()

    def _take_and_apply(self) -> bool:
        item = self._queue.get()
        if item is None:
            return False
        jobs, more = item, True
        while more and len(jobs) < self._max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                more = False
            else:
                jobs = jobs + nxt
        self._apply(jobs)
        return more

    def _apply(self, jobs: list[_Job]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = [self._apply_one(conn, job.op) for job in jobs]
            conn.execute("COMMIT")
            self.transactions += 1
            self.operations += len(jobs)
        except Exception as exc:  # the transaction as a whole failed: nothing was written
            _rollback(conn)
            outcomes = [(False, translate(exc)) for _ in jobs]
        self._resolve(jobs, outcomes)

    @staticmethod
    def _apply_one(conn: sqlite3.Connection, op: Op) -> tuple[bool, Any]:
        conn.execute("SAVEPOINT op")
        try:
            result = op(conn)
        except Exception as exc:
            if not conn.in_transaction:  # SQLite aborted the whole transaction (disk full...)
                raise
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return False, translate(exc)
        conn.execute("RELEASE op")
        return True, result

    @staticmethod
    def _resolve(jobs: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
        # One wake-up per event loop for the whole batch, not one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, items)


class ReaderPool:
    """Read-only connections, one per pool thread, each reading its own WAL snapshot."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int) -> None:
        self._connect = connect
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="flunq-sqlite-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def run(self, fn: Op, *, consistent: bool = False) -> Any:
        """Run ``fn(conn)`` on a reader thread; ``consistent`` wraps it in one transaction
        so that several SELECTs see the same state."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn, consistent)

    def _call(self, fn: Op, consistent: bool) -> Any:
        try:
            conn = self._conn()
            if not consistent:
                return fn(conn)
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except FlunqError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
