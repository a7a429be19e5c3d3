"""The ``call: http`` effect, and the HTTP code path every HTTP-based call goes through.

The handler receives the call's arguments fully evaluated by the interpreter::

    {"method": "get", "uri": "https://...", "headers": {...}, "query": {...}, "body": ...,
     "output": "content" | "response" | "raw", "redirect": false, "authentication": {...}}

Request:

- the method is upper-cased; ``query`` is merged into the URI's own query (a list value
  repeats the key); header and query values that are numbers or booleans render JSON-style;
- ``body`` absent or ``null`` sends no body; a string is sent as text
  (``text/plain; charset=utf-8`` unless ``Content-Type`` says otherwise); an object sent
  with ``Content-Type: application/x-www-form-urlencoded`` is form-encoded; anything else
  is sent as JSON (``application/json`` unless ``Content-Type`` says otherwise);
- ``Accept`` defaults to ``application/json, */*;q=0.8``, ``Accept-Encoding`` to
  ``gzip, deflate`` and ``User-Agent`` to ``flunq``; the call's own headers win. User
  information in the URI (``https://user:password@host``) is sent as basic authentication
  when the call has no ``authentication`` policy.

Status (DSL §9.2): with ``redirect: false`` redirects are not followed and any status
outside 200-299 is an error; with ``redirect: true`` redirects (301, 302, 303, 307, 308
with a ``Location``) are followed, at most ``ctx.max_redirects`` of them, and statuses
outside 200-399 are errors. A redirect keeps the method and body, except that 303 turns
any method but ``HEAD`` into a bodiless ``GET``, and 301/302 do so for ``POST`` (as the
Fetch standard says; turning a ``DELETE`` into a ``GET`` would hide that it never
happened). Credentials (``Authorization``, ``Cookie``, the call's authentication) are not
sent on once a redirect leads to another host or from ``https`` to ``http``. An error status raises a ``communication`` error whose
``status`` is the HTTP status and ``title`` its reason phrase (``Not Found``), ``detail``
naming the method, the URI and the start of the body. A request that gets no answer
raises a ``communication`` error too: status 504 (``Gateway Timeout``) when it timed out,
500 otherwise (connection refused, DNS failure, invalid URI, too many redirects...).

Output:

- ``content``: the body; parsed when the media type is JSON (``*/json``, ``*+json``, or no
  ``Content-Type`` and the body parses), text when it is textual or decodes as text, base64
  when it is binary; ``null`` for an empty body;
- ``raw``: the body bytes in base64;
- ``response``: ``{"request": {"method", "uri", "headers"}, "statusCode", "headers",
  "content"}``. ``request`` is the request that produced the response (the last one after
  redirects), with lower-case header names and credential headers (``authorization``,
  ``proxy-authorization``, ``cookie``) redacted; response header names are lower-case,
  repeated headers joined with ``", "``.

User information in URIs (``https://user:secret@host``) never appears in errors or logs;
logs name only the scheme, host and path.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

from flunq.effects import client
from flunq.effects.auth import Authenticator, HeaderAuth, auth_for, basic_header
from flunq.effects.context import EffectContext
from flunq.errors import WorkflowError, problem
from flunq.interpreter.uritemplate import render_scalar

__all__ = ["HttpRequest", "call_http", "communication_error", "decode_content", "exchange", "send"]

log = logging.getLogger(__name__)

OUTPUTS = ("content", "response", "raw")
DEFAULT_ACCEPT = "application/json, */*;q=0.8"
#: What both transports decode.
ACCEPT_ENCODING = "gzip, deflate"
USER_AGENT = "flunq"
REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_TEXT_MEDIA = re.compile(r"^text/|[/+](xml|yaml|javascript|x-www-form-urlencoded|csv|html)$")
_EXCERPT = 200
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What a redirected request must not carry on as it was: recomputed headers, the body's
# headers once the body is dropped, credentials once it leaves the host.
_RECOMPUTED = frozenset({"host", "content-length"})
_BODY_HEADERS = frozenset({"content-type", "content-encoding", "content-language", "content-location"})


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP call as the DSL describes it; ``has_body`` tells a ``null`` body from none."""

    method: str
    uri: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    output: str = "content"
    redirect: bool = False
    authentication: Mapping[str, Any] | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> HttpRequest:
        """Check and normalise the ``call: http`` arguments; bad ones are a configuration error."""
        method, uri = args.get("method"), args.get("uri")
        if not isinstance(method, str) or not method.strip():
            raise _config_error("call: http needs a 'method' string")
        if not isinstance(uri, str) or not uri:
            raise _config_error("call: http needs a 'uri' string")
        output = args.get("output") or "content"
        if output not in OUTPUTS:
            raise _config_error(f"unknown output {output!r}: use {', '.join(OUTPUTS)}")
        headers = args.get("headers") or {}
        query = args.get("query") or {}
        if not isinstance(headers, Mapping) or not isinstance(query, Mapping):
            raise _config_error("call: http 'headers' and 'query' must be objects")
        auth = args.get("authentication")
        return cls(
            method=method.strip().upper(),
            uri=uri,
            headers=headers,
            query=pairs(query, "query"),
            body=args.get("body"),
            output=output,
            redirect=bool(args.get("redirect", False)),
            authentication=auth if isinstance(auth, Mapping) else None,
        )


async def call_http(args: dict[str, Any], ctx: EffectContext) -> Any:
    """The ``http`` effect handler: perform the call, return the task's raw output."""
    return await send(HttpRequest.from_args(args), ctx)


async def send(request: HttpRequest, ctx: EffectContext) -> Any:
    """Perform ``request`` and shape its response as ``request.output`` asks."""
    response = await exchange(request, ctx)
    if request.output == "raw":
        return base64.b64encode(response.body).decode("ascii")
    content = decode_content(response)
    if request.output == "content":
        return content
    return {
        "request": _request_object(response.request),
        "statusCode": response.status,
        "headers": _header_object(response.headers),
        "content": content,
    }


async def exchange(request: HttpRequest, ctx: EffectContext) -> client.Response:
    """Send ``request`` (with its authentication) and return a response of accepted status.

    Follows redirects when ``request.redirect`` says so. Raises a ``communication``
    :class:`WorkflowError` for an error status or no answer.
    """
    outgoing, userinfo = _build(request, ctx)
    auth = await auth_for(request.authentication, ctx)
    if auth is None and userinfo is not None:
        auth = HeaderAuth(basic_header(*userinfo))
    response = await _follow(outgoing, auth, request.redirect, ctx)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s -> %s", response.request.method, _logged(response.url), response.status)
    highest = 399 if request.redirect else 299
    if not 200 <= response.status <= highest:
        raise _status_error(response)
    return response


def decode_content(response: client.Response) -> Any:
    """The body as JSON data, text or base64, following its media type (see the module doc)."""
    body = response.body
    if not body:
        return None
    media = response.media_type
    if not media or media.endswith("/json") or media.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            if media:  # declared JSON but is not: still give the caller the text
                return response.text()
    if _TEXT_MEDIA.search(media):
        return response.text()
    try:
        return body.decode(response.charset or "utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii")


def communication_error(status: int, title: str | None, detail: str) -> WorkflowError:
    """A ``communication`` error with a real (or chosen) HTTP status."""
    return WorkflowError(problem("communication", title=title, detail=detail, status=status))


def pairs(values: Mapping[str, Any], what: str) -> list[tuple[str, str]]:
    """``(name, text)`` pairs of a query/form object; a list value repeats its name."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            out.append((str(name), _text(item, f"{what} parameter {name!r}")))
    return out


async def _follow(
    request: client.Request, auth: Authenticator | None, redirect: bool, ctx: EffectContext
) -> client.Response:
    """Send ``request``, then, when ``redirect``, the requests its redirects lead to."""
    for _ in range(ctx.max_redirects + 1):
        response = await _attempt(request, auth, ctx)
        location = response.header("location") if redirect and response.status in _REDIRECTS else None
        if location is None:
            return response
        previous, request = request, _redirected(request, response.status, location)
        if _leaves(previous, request.scheme, request.host):
            auth = None  # the call's credentials are for the host it named
    detail = f"{request.method} {request.url} failed: more than {ctx.max_redirects} redirects"
    raise communication_error(500, None, detail)


async def _attempt(
    request: client.Request, auth: Authenticator | None, ctx: EffectContext
) -> client.Response:
    """One exchange, authenticated; a 401 the authenticator can answer is retried once."""
    try:
        if auth is None:
            return await ctx.transport.exchange(request)
        value = await auth.authorization()
        sent = request if value is None else request.with_header("Authorization", value)
        response = await ctx.transport.exchange(sent)
        if response.status == 401:
            value = await auth.challenged(sent, response)
            if value is not None:
                response = await ctx.transport.exchange(request.with_header("Authorization", value))
        return response
    except client.TimedOut:
        detail = f"{request.method} {request.url}: no answer in time"
        raise communication_error(504, "Gateway Timeout", detail) from None
    except client.TransportError as exc:
        detail = f"{request.method} {request.url} failed: {_reason(exc)}"
        raise communication_error(500, None, detail) from None


def _redirected(request: client.Request, status: int, location: str) -> client.Request:
    """The request a redirect leads to (see the module doc)."""
    method, body = request.method, request.body
    if (status == 303 and method not in ("GET", "HEAD")) or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
    dropped = _RECOMPUTED if body is not None else _RECOMPUTED | _BODY_HEADERS
    try:
        target = client.parse_url(urljoin(request.url, location))
        if _leaves(request, target.scheme, target.host):
            dropped = dropped | _SECRET_HEADERS
        headers = [(k, v) for k, v in request.headers if k.lower() not in dropped]
        return client.Request(method, target.url, headers, body, request.timeout)
    except (client.InvalidRequest, ValueError) as exc:
        detail = f"{request.method} {request.url} redirected to an invalid URI: {_reason(exc)}"
        raise communication_error(500, None, detail) from None


def _leaves(request: client.Request, scheme: str, host: str) -> bool:
    """Whether a redirect to ``scheme://host`` leaves the request's host (or TLS)."""
    return host != request.host or (request.scheme == "https" and scheme == "http")


def _build(request: HttpRequest, ctx: EffectContext) -> tuple[client.Request, tuple[str, str] | None]:
    """The first request of a call, and the user information its URI carries."""
    headers = {
        "accept": ("Accept", DEFAULT_ACCEPT),
        "accept-encoding": ("Accept-Encoding", ACCEPT_ENCODING),
        "user-agent": ("User-Agent", USER_AGENT),
    }
    for key, value in request.headers.items():
        name = str(key)
        headers[name.lower()] = (name, _text(value, f"header {key!r}"))
    content = _encode_body(request.body, headers)
    try:
        uri = _with_query(request.uri, request.query)
        built = client.Request(request.method, uri, headers.values(), content, ctx.timeout)
        return built, client.parse_url(uri).userinfo
    except (client.InvalidRequest, ValueError) as exc:
        shown = _shown_text(request.uri)
        raise communication_error(500, None, f"{request.method} {shown}: {_reason(exc)}") from None


def _with_query(uri: str, query: list[tuple[str, str]]) -> str:
    """Add ``query`` to the URI's own query; a name given in both takes the call's values."""
    if not query:
        return uri
    parts = urlsplit(uri)
    names = {name for name, _ in query}
    kept = [
        part
        for part in parts.query.split("&")
        if part and unquote_plus(part.split("=", 1)[0]) not in names
    ]
    added = urlencode(query, safe=",", quote_via=quote)  # commas delimit array values
    return urlunsplit(parts._replace(query="&".join([*kept, added])))


def _encode_body(body: Any, headers: dict[str, tuple[str, str]]) -> bytes | None:
    if body is None:
        return None
    media = headers.get("content-type", ("", ""))[1].split(";")[0].strip().lower()
    if isinstance(body, str):
        headers.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
        return body.encode()
    if media == "application/x-www-form-urlencoded" and isinstance(body, Mapping):
        return urlencode(pairs(body, "form")).encode()
    headers.setdefault("content-type", ("Content-Type", "application/json"))
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise _config_error(f"the request body is not JSON data: {exc}") from None


def _text(value: Any, what: str) -> str:
    try:
        return render_scalar(value)
    except TypeError:
        raise _config_error(f"{what} must be a string, number or boolean") from None


def _status_error(response: client.Response) -> WorkflowError:
    status = response.status
    title = response.reason or f"HTTP {status}"
    excerpt = " ".join(response.body[: _EXCERPT * 4].decode("utf-8", "replace").split())
    if len(excerpt) > _EXCERPT:
        excerpt = excerpt[:_EXCERPT] + "…"
    detail = f"{response.request.method} {response.url} answered {status} {title}"
    return communication_error(status, title, f"{detail}: {excerpt}" if excerpt else detail)


def _request_object(request: client.Request) -> dict[str, Any]:
    headers = _header_object(request.headers)
    for name in _SECRET_HEADERS & headers.keys():
        headers[name] = REDACTED
    return {"method": request.method, "uri": request.url, "headers": headers}


def _header_object(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _shown_text(uri: str) -> str:
    """The URI without user information, for errors about URIs that do not parse."""
    return re.sub(r"(?<=://)[^/@?#]*@", "", uri)


def _logged(url: str) -> str:
    """Scheme, host and path only: queries may carry keys or tokens."""
    return url.split("?", 1)[0]


def _reason(exc: BaseException) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _config_error(detail: str) -> WorkflowError:
    return WorkflowError(problem("configuration", title="Invalid Call", detail=detail))

