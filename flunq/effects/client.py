"""The HTTP client API of the effect handlers: one request, one response, a transport.

Everything above the wire (query merging, bodies, authentication, redirects, outputs)
lives in :mod:`flunq.effects.http` and :mod:`flunq.effects.auth`; a :class:`Transport`
only performs single exchanges. Two transports exist:

- :class:`flunq.effects.lean.LeanTransport`, the production default: HTTP/1.1 over asyncio
  with a keep-alive pool;
- :class:`flunq.effects.adapter.HttpxTransport`, which sends each exchange through an
  ``httpx`` client or transport, so that tests can inject ``httpx.MockTransport``.

A :class:`Request` is built from an absolute ``http``/``https`` URI: the constructor
checks and normalises it once (lower-case scheme and host, IDNA host, default port
dropped, path and query percent-encoded where needed, fragment and user information
removed) and completes the headers with ``Host`` and ``Content-Length``, so that
``request.headers`` is exactly what goes on the wire.
"""

from __future__ import annotations

import codecs
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from flunq.errors import FlunqError

__all__ = [
    "ConnectFailed",
    "InvalidRequest",
    "ProtocolError",
    "Request",
    "Response",
    "Target",
    "TimedOut",
    "Transport",
    "TransportError",
    "parse_url",
    "reason_phrase",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Characters a request target may carry as they are ('%' too: escapes are kept).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class TransportError(FlunqError):
    """An exchange failed before a complete response was read."""


class InvalidRequest(TransportError):
    """The request cannot be sent: not an absolute http(s) URI, or a malformed header."""


class ConnectFailed(TransportError):
    """No connection could be made (refused, unreachable, DNS or TLS failure)."""


class TimedOut(TransportError):
    """The connection or the response took longer than the request's timeout."""


class ProtocolError(TransportError):
    """The server broke HTTP/1.1, hung up mid-response, or exceeded a size limit."""


class Target(NamedTuple):
    """A parsed, normalised absolute URI (see :func:`parse_url`)."""

    scheme: str
    host: str  # lower-case, IDNA, without brackets: what to connect to
    port: int
    netloc: str  # the ``Host`` header: host (bracketed if IPv6) and non-default port
    target: str  # path and query, percent-encoded: the request line's target
    url: str  # scheme://netloc/target, without user information nor fragment
    userinfo: tuple[str, str] | None  # (user, password), percent-decoded


@lru_cache(maxsize=4096)
def parse_url(url: str) -> Target:
    """Parse and normalise an absolute ``http``/``https`` URI; raise :class:`InvalidRequest`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise InvalidRequest(f"invalid URI: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidRequest("not an absolute http(s) URI")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidRequest(f"invalid host name {host!r}") from None
    if port == 0:
        raise InvalidRequest("invalid port 0")
    default = _DEFAULT_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port in (None, default) else f"{shown_host}:{port}"
    target = quote(parts.path, safe=_PATH_SAFE) or "/"
    if parts.query:
        target += "?" + quote(parts.query, safe=_QUERY_SAFE)
    userinfo = None
    if parts.username is not None or parts.password is not None:
        userinfo = (unquote(parts.username or ""), unquote(parts.password or ""))
    return Target(scheme, host, port or default, netloc, target, f"{scheme}://{netloc}{target}", userinfo)


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``""`` when it has none)."""
    return _REASONS.get(status, "")


class Request:
    """One HTTP exchange to perform: what a :class:`Transport` sends, verbatim.

    ``headers`` is a list of ``(name, value)`` pairs in sending order; the constructor adds
    ``Host`` when absent and sets ``Content-Length`` itself (a given ``Content-Length`` or
    ``Transfer-Encoding`` is dropped: bodies are always sent whole). ``timeout`` (seconds,
    ``None`` for none) bounds connecting and, separately, getting the whole response.
    """

    __slots__ = ("body", "headers", "host", "method", "origin", "port", "scheme", "target", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        if not _TOKEN.fullmatch(method):
            raise InvalidRequest(f"invalid method {method!r}")
        where = parse_url(url)
        self.method = method
        self.url = where.url
        self.scheme, self.host, self.port, self.target = where.scheme, where.host, where.port, where.target
        self.origin = (where.scheme, where.host, where.port)
        self.body = body
        self.timeout = timeout
        self.headers = _complete(headers, where.netloc, method, body)

    def with_header(self, name: str, value: str) -> Request:
        """A copy sending ``name: value`` instead of any header of that name."""
        _check_header(name, value)
        lower = name.lower()
        copy = self._copy()
        copy.headers = [h for h in self.headers if h[0].lower() != lower]
        copy.headers.append((name, value))
        return copy

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        return _first(self.headers, name)

    def _copy(self) -> Request:
        copy = object.__new__(Request)
        for slot in Request.__slots__:
            setattr(copy, slot, getattr(self, slot))
        return copy

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.scheme}://{self.host}:{self.port}>"


def _complete(
    headers: Iterable[tuple[str, str]], netloc: str, method: str, body: bytes | None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    has_host = False
    for name, value in headers:
        _check_header(name, value)
        lower = name.lower()
        if lower == "host":
            has_host = True
        elif lower in ("content-length", "transfer-encoding"):
            continue
        out.append((name, value))
    if not has_host:
        out.insert(0, ("Host", netloc))
    if body is not None:
        out.append(("Content-Length", str(len(body))))
    elif method in _BODY_METHODS:
        out.append(("Content-Length", "0"))
    return out


def _check_header(name: str, value: str) -> None:
    # A CR or LF would let a value smuggle headers (or a whole request) onto the wire.
    if not _TOKEN.fullmatch(name) or "\n" in value or "\r" in value or "\0" in value:
        raise InvalidRequest(f"invalid header {name!r}")


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class Response:
    """A complete response: status line, headers in order, and the decoded body.

    ``body`` is already decoded from its ``Content-Encoding`` (gzip, deflate); the headers
    are as received. ``request`` is the request that produced it.
    """

    __slots__ = ("body", "headers", "reason", "request", "status")

    def __init__(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, request: Request
    ) -> None:
        self.status = status
        self.reason = reason or reason_phrase(status)
        self.headers = headers
        self.body = body
        self.request = request

    @property
    def url(self) -> str:
        return self.request.url

    @property
    def is_success(self) -> bool:
        return 200 <= self.status <= 299

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        return _first(self.headers, name)

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` without parameters, lower-case (``""`` when absent)."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of the ``Content-Type``, when it names a known codec."""
        for param in (self.header("content-type") or "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                name = value.strip().strip("'\"")
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    return None
        return None

    def text(self) -> str:
        """The body as text: its charset, else UTF-8; undecodable bytes are replaced."""
        return self.body.decode(self.charset or "utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


class Transport(ABC):
    """Performs single HTTP exchanges. Implementations must honour this contract:

    - send ``request.method`` to ``request.url`` with ``request.headers`` exactly as given
      (they already hold ``Host`` and ``Content-Length``) and ``request.body``;
    - return the first final response (interim ``1xx`` responses are skipped), whatever
      its status: never follow redirects, never authenticate, never retry a request the
      server may have processed (retrying a reused keep-alive connection that failed
      before any response byte is allowed);
    - decode ``gzip``/``deflate`` content encodings into ``Response.body``;
    - raise :class:`TimedOut` when ``request.timeout`` elapses, :class:`ConnectFailed`
      when no connection could be made, :class:`ProtocolError` for a broken or oversized
      response, :class:`InvalidRequest` for a request it cannot send; nothing else but
      cancellation.
    """

    @abstractmethod
    async def exchange(self, request: Request) -> Response:
        """Send ``request`` and return its response."""

    async def aclose(self) -> None:  # noqa: B027 - transports without resources need nothing
        """Release connections; the transport must not be used afterwards."""
