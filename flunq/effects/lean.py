"""The production HTTP transport: HTTP/1.1 on asyncio protocols, with a keep-alive pool.

Why not httpx or aiohttp: the executor's HTTP path dominated the engine's CPU profile;
their generality (streaming, hooks, cookie jars, auth and redirect generators) costs far
more per call than moving the bytes. This transport does one thing: send a complete
request and read a complete response (see :class:`~flunq.effects.client.Transport`).

- Connections are pooled per ``(scheme, host, port)``: at most ``max_idle_per_host`` idle
  ones are kept (most recently used first), and those idle longer than ``idle_timeout``
  seconds are closed. A response with ``Connection: close``, an HTTP/1.0 response
  without keep-alive, or a body delimited by the end of the connection is not reused.
- A reused connection that the server closed (EOF or reset before any byte of the
  response) is retried once on a new connection, whatever the method: servers close idle
  keep-alive connections whenever they like, which is by far the likeliest cause (a
  server that crashed after acting on the request is covered by the effects being at
  least once anyway; see DESIGN.md).
- TLS uses the default context (system CA store, hostname check, SNI); pass
  ``ssl_context`` to trust something else.
- ``request.timeout`` bounds connecting, then, from a fresh deadline, the whole exchange.
- No proxies: ``HTTP(S)_PROXY`` environment variables are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque

from flunq.effects import wire
from flunq.effects.client import (
    ConnectFailed,
    ProtocolError,
    Request,
    Response,
    TimedOut,
    Transport,
)

__all__ = ["LeanTransport"]

Origin = tuple[str, str, int]


class _Stale(Exception):
    """A reused connection was found closed before any byte of the response."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, carrying one exchange at a time."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser: wire.ResponseParser | None = None
        self.waiter: asyncio.Future[wire.ResponseParser] | None = None
        self.uses = 0
        self.idle_since = 0.0
        self.closed = False

    # --- the exchange ----------------------------------------------------------------

    def send(self, chunks: list[bytes], parser: wire.ResponseParser) -> asyncio.Future[wire.ResponseParser]:
        assert self.transport is not None
        self.uses += 1
        waiter: asyncio.Future[wire.ResponseParser] = asyncio.get_running_loop().create_future()
        if self.closed or self.transport.is_closing():
            waiter.set_exception(_Stale() if self.uses > 1 else ProtocolError("connection closed"))
            return waiter
        self.parser, self.waiter = parser, waiter
        for chunk in chunks:
            self.transport.write(chunk)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    # --- protocol callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        try:
            done = parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if done:
            self._finish()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended(exc)

    def _ended(self, exc: Exception | None) -> None:
        parser = self.parser
        if parser is None:
            return
        if not parser.received and self.uses > 1:
            self._fail(_Stale())
            return
        try:
            parser.feed_eof()
        except ProtocolError as error:
            if exc is not None:
                error = ProtocolError(f"{error.message}: {exc}")
            self._fail(error)
            return
        self._finish()

    def _finish(self) -> None:
        waiter, parser = self.waiter, self.parser
        self.waiter = self.parser = None
        if waiter is not None and not waiter.done():
            waiter.set_result(parser)  # type: ignore[arg-type]

    def _fail(self, exc: BaseException) -> None:
        waiter = self.waiter
        self.waiter = self.parser = None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class LeanTransport(Transport):
    """Sends exchanges over pooled HTTP/1.1 connections (see the module doc)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_per_host: int = 256,
        idle_timeout: float = 30.0,
        max_head: int = wire.MAX_HEAD,
        max_body: int = wire.MAX_BODY,
    ) -> None:
        self._ssl = ssl_context
        self.max_idle_per_host = max_idle_per_host
        self.idle_timeout = idle_timeout
        self.max_head = max_head
        self.max_body = max_body
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._next_sweep = 0.0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def exchange(self, request: Request) -> Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._adopt(loop)
        try:
            async with asyncio.timeout(request.timeout) as deadline:
                connection = self._pooled(request.origin, loop.time())
                if connection is not None:
                    try:
                        return await self._exchange_on(connection, request)
                    except _Stale:
                        pass  # the server closed it while it was idle: once more, afresh
                connection = await self._connect(request)
                if request.timeout is not None:
                    deadline.reschedule(loop.time() + request.timeout)
                try:
                    return await self._exchange_on(connection, request)
                except _Stale:  # a new connection is never stale; keep the promise anyway
                    raise ProtocolError("connection closed") from None
        except TimeoutError:
            raise TimedOut(f"no complete answer in {request.timeout} s") from None

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Forget connections made on another event loop (``asyncio.run`` called again)."""
        for idle in self._idle.values():
            for connection in idle:
                with contextlib.suppress(Exception):  # their loop may be closed already
                    connection.abort()
        self._idle.clear()
        self._loop = loop

    async def _exchange_on(self, connection: _Connection, request: Request) -> Response:
        parser = wire.ResponseParser(
            head_only=request.method == "HEAD", max_head=self.max_head, max_body=self.max_body
        )
        try:
            await connection.send(wire.encode_request(request), parser)
        except BaseException:
            connection.abort()  # timed out or cancelled mid-exchange: the stream is out of step
            raise
        if parser.reusable and request.header("connection") != "close":
            self._release(connection)
        else:
            connection.close()
        body = bytes(parser.body)
        if parser.encoding is not None:
            body = wire.decode_body(parser.encoding, body, self.max_body)
        return Response(parser.status, parser.reason, parser.headers, body, request)

    async def _connect(self, request: Request) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls() if request.scheme == "https" else None
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(request.origin),
                request.host,
                request.port,
                ssl=tls,
                server_hostname=request.host if tls is not None else None,
                happy_eyeballs_delay=0.25,
            )
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise ConnectFailed(str(exc) or type(exc).__name__) from None
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    # --- the pool ---------------------------------------------------------------------

    def _pooled(self, origin: Origin, now: float) -> _Connection | None:
        if now >= self._next_sweep:
            self._sweep(now)
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recently used is the most likely alive
            if connection.usable:
                return connection
        return None

    def _release(self, connection: _Connection) -> None:
        idle = self._idle.get(connection.origin)
        if idle is None:
            idle = self._idle[connection.origin] = deque()
        if self._closed or len(idle) >= self.max_idle_per_host:
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)

    def _sweep(self, now: float) -> None:
        """Close connections idle for too long (and forget the closed ones)."""
        self._next_sweep = now + min(self.idle_timeout / 4, 5.0)
        expired = now - self.idle_timeout
        for origin, idle in list(self._idle.items()):
            while idle and (idle[0].idle_since <= expired or not idle[0].usable):
                idle.popleft().close()
            if not idle:
                del self._idle[origin]

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
