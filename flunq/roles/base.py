"""What every role shares: a stop switch and a loop that survives backend outages.

A role's :meth:`Role.run` returns once :meth:`Role.stop` was called and its in-flight work
is done. It raises only on a bug; then the runtime stops the whole process rather than run
on without that role. A backend that is down (``BackendUnavailable``) is not a bug: the
loop logs it, waits with backoff and tries again, so the role resumes when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from flunq.errors import BackendError

log = logging.getLogger("flunq.roles")


class Role(ABC):
    name: str = "role"

    def __init__(self) -> None:
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Stop taking new work; :meth:`run` returns once in-flight work is done."""
        self._stopping.set()

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the role is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    @abstractmethod
    async def run(self) -> None: ...

    async def loop(self, once: Callable[[], Awaitable[None]], *, what: str) -> None:
        """Call ``once`` until stopped, riding out backend outages with backoff."""
        backoff = 0.1
        while not self.stopping:
            try:
                await once()
                backoff = 0.1
            except BackendError as exc:
                log.warning("%s: backend unavailable, retrying in %.1fs: %s", what, backoff, exc)
                await self.pause(backoff)
                backoff = min(backoff * 2, 5.0)
