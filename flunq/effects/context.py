"""What the effect handlers of one executor role share: an HTTP transport and caches.

One :class:`EffectContext` lives as long as the executor role. It holds the
:class:`~flunq.effects.client.Transport` every ``call`` goes through (by default a
:class:`~flunq.effects.lean.LeanTransport`; tests inject an ``httpx.AsyncClient`` built on
``httpx.MockTransport``), the cache of fetched documents (OpenAPI documents, OpenID
discovery documents) and the cache of OAuth2 access tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flunq.effects.client import Transport

if TYPE_CHECKING:
    import httpx

__all__ = ["DocumentCache", "EffectContext", "TTLCache", "TokenCache"]

V = TypeVar("V")

#: Loads a missing cache entry: returns the value and its time to live in seconds
#: (``None`` for the cache's default, ``0`` or less for "do not keep").
Loader = Callable[[], Awaitable[tuple[V, float | None]]]


class TTLCache(Generic[V]):
    """A bounded LRU mapping whose entries expire ``ttl`` seconds after they were stored.

    :meth:`get_or_load` lets only one task load a given key at a time, so that a burst of
    calls needing the same document or token causes a single fetch.
    """

    def __init__(
        self,
        *,
        maxsize: int = 128,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}  # lock, users

    def get(self, key: Hashable) -> V | None:
        """The live value stored under ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def set(self, key: Hashable, value: V, ttl: float | None = None) -> None:
        """Store ``value``; a ``ttl`` of zero or less stores nothing (and drops the old one)."""
        ttl = self.ttl if ttl is None else ttl
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, Hashable) and self.get(key) is not None

    async def get_or_load(self, key: Hashable, load: Loader[V]) -> V:
        """The cached value of ``key``, loading (and caching) it when absent or expired."""
        value = self.get(key)
        if value is not None:
            return value
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                value = self.get(key)  # another task may have loaded it meanwhile
                if value is not None:
                    return value
                value, ttl = await load()
                self.set(key, value, ttl)
                return value
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class DocumentCache(TTLCache[Any]):
    """Parsed documents (OpenAPI, OpenID configuration) by URI; 10 minutes by default."""


class TokenCache(TTLCache[str]):
    """OAuth2 access tokens by a digest of the policy that obtained them, until they expire."""


class EffectContext:
    """Shared state of the effect handlers of one executor role.

    Every request goes through ``transport``. When none is given, ``http`` may be an
    ``httpx.AsyncClient`` or ``httpx.AsyncBaseTransport`` (wrapped in an
    :class:`~flunq.effects.adapter.HttpxTransport`: how tests inject
    ``httpx.MockTransport``) or a :class:`Transport`; with neither, the context creates a
    :class:`~flunq.effects.lean.LeanTransport` and closes it in :meth:`aclose` (an injected
    client or transport is left to its owner). ``timeout`` (seconds) applies to every
    request; redirects, when a call asks for them, are followed up to ``max_redirects``.
    Use it as ``async with EffectContext() as ctx: ...``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | httpx.AsyncBaseTransport | Transport | None = None,
        *,
        transport: Transport | None = None,
        timeout: float = 30.0,
        document_ttl: float = 600.0,
        max_documents: int = 128,
        max_tokens: int = 1024,
        max_redirects: int = 20,
        clock: Callable[[], float] = time.monotonic,
        allow_run: tuple[str, ...] = (),
    ) -> None:
        if transport is None and http is not None:
            transport = http if isinstance(http, Transport) else _wrapped(http)
        self._owns_transport = transport is None
        if transport is None:
            from flunq.effects.lean import LeanTransport

            transport = LeanTransport()
        self.transport: Transport = transport
        #: ``run`` kinds the operator enabled (``shell``, ``script``, ``container``); off by default.
        self.allow_run = allow_run
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.documents = DocumentCache(maxsize=max_documents, ttl=document_ttl, clock=clock)
        self.tokens = TokenCache(maxsize=max_tokens, ttl=300.0, clock=clock)

    async def aclose(self) -> None:
        """Close the transport if this context created it; forget cached tokens."""
        self.tokens.clear()
        self.documents.clear()
        if self._owns_transport:
            await self.transport.aclose()

    async def __aenter__(self) -> EffectContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _wrapped(http: Any) -> Transport:
    # httpx is imported only when a caller hands us an httpx object (tests do).
    from flunq.effects.adapter import HttpxTransport

    return HttpxTransport(http)
