"""Group commit for stores whose server takes pipelines (Redis).

Commits submitted while a batch is on the wire wait and leave together in the next one, so
200 executions committing at once cost a handful of round trips, not 200; a lone commit
leaves at once (one event-loop turn later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from flunq.errors import BackendUnavailable, StoreError
from flunq.store.base import Commit

RunBatch = Callable[[list[Commit]], Awaitable[list[BaseException | None]]]


def _own_copy(exc: Exception) -> BaseException:
    # Each caller raises its own exception object (tracebacks are kept on the object).
    err = (
        BackendUnavailable(str(exc))
        if isinstance(exc, BackendUnavailable)
        else StoreError(str(exc))
    )
    err.__cause__ = exc
    return err


class CommitBatcher:
    """Queues commits and runs them in batches, one batch in flight at a time."""

    def __init__(self, run: RunBatch, *, max_batch: int = 500) -> None:
        self._run = run
        self._max = max(1, max_batch)
        self._pending: list[tuple[Commit, asyncio.Future[BaseException | None]]] = []
        self._task: asyncio.Task[None] | None = None
        #: pipelines sent and commits they carried so far (to see grouping at work)
        self.batches = 0
        self.commits = 0

    def submit(self, commit: Commit) -> asyncio.Future[BaseException | None]:
        """A future resolving to None (applied) or the exception of this commit."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[BaseException | None] = loop.create_future()
        self._pending.append((commit, fut))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return fut

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            self.batches += 1
            self.commits += len(batch)
            try:
                outcomes = await self._run([c for c, _ in batch])
            except asyncio.CancelledError:
                for _, fut in batch:
                    fut.cancel()
                raise
            except Exception as exc:  # the whole batch failed (connection lost...)
                outcomes = [_own_copy(exc) for _ in batch]
            for (_, fut), outcome in zip(batch, outcomes, strict=True):
                if not fut.done():
                    fut.set_result(outcome)

    async def close(self) -> None:
        """Wait until every submitted commit has been sent and answered."""
        task = self._task
        if task is not None and not task.done():
            await task
