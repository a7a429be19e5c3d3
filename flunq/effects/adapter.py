"""Sends exchanges through httpx: how tests plug ``httpx.MockTransport`` into the effects.

:class:`HttpxTransport` wraps either an ``httpx.AsyncClient`` (each exchange goes through
``client.send`` without redirects nor authentication: those are ours; the client's mounts,
proxies and event hooks still apply) or any ``httpx.AsyncBaseTransport`` (called
directly). It does not close what it wraps: whoever made the client owns it.
"""

from __future__ import annotations

import logging

import httpx

from flunq.effects.client import (
    ConnectFailed,
    InvalidRequest,
    ProtocolError,
    Request,
    Response,
    TimedOut,
    Transport,
)

__all__ = ["HttpxTransport"]


class HttpxTransport(Transport):
    """A :class:`~flunq.effects.client.Transport` on top of an httpx client or transport."""

    def __init__(self, target: httpx.AsyncClient | httpx.AsyncBaseTransport) -> None:
        if not isinstance(target, httpx.AsyncClient | httpx.AsyncBaseTransport):
            raise TypeError(f"expected an httpx.AsyncClient or httpx.AsyncBaseTransport, got {target!r}")
        self.target = target
        if isinstance(target, httpx.AsyncClient):
            _scrub_httpx_logs()

    async def exchange(self, request: Request) -> Response:
        timeout = request.timeout
        outgoing = httpx.Request(
            request.method,
            request.url,
            headers=[(name.encode(), value.encode()) for name, value in request.headers],
            content=request.body,
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
        )
        try:
            if isinstance(self.target, httpx.AsyncClient):
                answer = await self.target.send(outgoing, auth=None, follow_redirects=False)
            else:
                answer = await self.target.handle_async_request(outgoing)
                try:
                    await answer.aread()
                finally:
                    await answer.aclose()
        except httpx.TimeoutException as exc:
            raise TimedOut(_reason(exc)) from None
        except httpx.ConnectError as exc:
            raise ConnectFailed(_reason(exc)) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise InvalidRequest(_reason(exc)) from None
        except httpx.HTTPError as exc:
            raise ProtocolError(_reason(exc)) from None
        encoding = answer.headers.encoding
        headers = [(k.decode(encoding), v.decode(encoding)) for k, v in answer.headers.raw]
        return Response(answer.status_code, answer.reason_phrase, headers, answer.content, request)


def _reason(exc: Exception) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class _UrlScrubber(logging.Filter):
    """Drops query strings and user information from the URLs httpx logs.

    httpx logs every request line at INFO; a query may carry an API key or a token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(_scrubbed(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _scrubbed(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


def _scrub_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _UrlScrubber) for f in logger.filters):
        logger.addFilter(_UrlScrubber())
