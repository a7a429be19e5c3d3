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
- ``Accept`` defaults to ``application/json, */*;q=0.8`` and ``User-Agent`` to ``flunq``;
  the call's own headers win.

Status (DSL §9.2): with ``redirect: false`` redirects are not followed and any status
outside 200-299 is an error; with ``redirect: true`` redirects are followed and statuses
outside 200-399 are errors. An error status raises a ``communication`` error whose
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
from urllib.parse import quote, unquote_plus, urlencode

import httpx

from flunq.effects.auth import auth_for
from flunq.effects.context import EffectContext
from flunq.effects.uritemplate import render_scalar
from flunq.errors import WorkflowError, problem

__all__ = ["HttpRequest", "call_http", "communication_error", "decode_content", "exchange", "send"]

log = logging.getLogger(__name__)

OUTPUTS = ("content", "response", "raw")
DEFAULT_ACCEPT = "application/json, */*;q=0.8"
USER_AGENT = "flunq"
REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_TEXT_MEDIA = re.compile(r"^text/|[/+](xml|yaml|javascript|x-www-form-urlencoded|csv|html)$")
_EXCERPT = 200


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
        return base64.b64encode(response.content).decode("ascii")
    content = decode_content(response)
    if request.output == "content":
        return content
    return {
        "request": _request_object(response.request),
        "statusCode": response.status_code,
        "headers": _header_object(response.headers),
        "content": content,
    }


async def exchange(request: HttpRequest, ctx: EffectContext) -> httpx.Response:
    """Send ``request`` (with its authentication) and return a response of accepted status.

    Raises a ``communication`` :class:`WorkflowError` for an error status or no answer.
    """
    outgoing = _build(request, ctx)
    auth = await auth_for(request.authentication, ctx)
    try:
        response = await ctx.http.send(outgoing, auth=auth, follow_redirects=request.redirect)
    except httpx.TimeoutException:
        raise communication_error(
            504, "Gateway Timeout", f"{request.method} {_shown(outgoing.url)}: no answer in time"
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise communication_error(
            500, None, f"{request.method} {_shown(outgoing.url)} failed: {_reason(exc)}"
        ) from None
    log.debug("%s %s -> %s", request.method, _logged(outgoing.url), response.status_code)
    highest = 399 if request.redirect else 299
    if not 200 <= response.status_code <= highest:
        raise _status_error(request.method, response)
    return response


def decode_content(response: httpx.Response) -> Any:
    """The body as JSON data, text or base64, following its media type (see the module doc)."""
    body = response.content
    if not body:
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not media or media.endswith("/json") or media.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            if media:  # declared JSON but is not: still give the caller the text
                return response.text
    if _TEXT_MEDIA.search(media):
        return response.text
    try:
        return body.decode(response.charset_encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
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


def _build(request: HttpRequest, ctx: EffectContext) -> httpx.Request:
    headers = httpx.Headers({"Accept": DEFAULT_ACCEPT, "User-Agent": USER_AGENT})
    headers.update({str(k): _text(v, f"header {k!r}") for k, v in request.headers.items()})
    content = _encode_body(request.body, headers)
    try:
        url = _with_query(httpx.URL(request.uri), request.query)
        if url.scheme not in ("http", "https") or not url.host or not 0 < (url.port or 80) < 65536:
            raise ValueError("not an absolute http(s) URI")
        return ctx.http.build_request(request.method, url, headers=headers, content=content, timeout=ctx.timeout)
    except (httpx.InvalidURL, httpx.HTTPError, ValueError) as exc:
        shown = _shown_text(request.uri)
        raise communication_error(500, None, f"{request.method} {shown}: {_reason(exc)}") from None


def _with_query(url: httpx.URL, query: list[tuple[str, str]]) -> httpx.URL:
    """Add ``query`` to the URI's own query; a name given in both takes the call's values."""
    if not query:
        return url
    names = {name for name, _ in query}
    kept = [
        part
        for part in url.query.decode("ascii").split("&")
        if part and unquote_plus(part.split("=", 1)[0]) not in names
    ]
    added = urlencode(query, safe=",", quote_via=quote)  # commas delimit array values
    return url.copy_with(query="&".join([*kept, added]).encode("ascii"))


def _encode_body(body: Any, headers: httpx.Headers) -> bytes | None:
    if body is None:
        return None
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body.encode()
    if media == "application/x-www-form-urlencoded" and isinstance(body, Mapping):
        return urlencode(pairs(body, "form")).encode()
    headers.setdefault("Content-Type", "application/json")
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise _config_error(f"the request body is not JSON data: {exc}") from None


def _text(value: Any, what: str) -> str:
    try:
        return render_scalar(value)
    except TypeError:
        raise _config_error(f"{what} must be a string, number or boolean") from None


def _status_error(method: str, response: httpx.Response) -> WorkflowError:
    status = response.status_code
    title = response.reason_phrase or httpx.codes.get_reason_phrase(status) or f"HTTP {status}"
    excerpt = " ".join(response.content[: _EXCERPT * 4].decode("utf-8", "replace").split())
    if len(excerpt) > _EXCERPT:
        excerpt = excerpt[:_EXCERPT] + "…"
    detail = f"{method} {_shown(response.request.url)} answered {status} {title}"
    return communication_error(status, title, f"{detail}: {excerpt}" if excerpt else detail)


def _request_object(request: httpx.Request) -> dict[str, Any]:
    headers = _header_object(request.headers)
    for name in _SECRET_HEADERS & headers.keys():
        headers[name] = REDACTED
    return {"method": request.method, "uri": _shown(request.url), "headers": headers}


def _header_object(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        name = name.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _shown(url: httpx.URL) -> str:
    """The URI without user information, for errors and outputs."""
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)


def _shown_text(uri: str) -> str:
    return re.sub(r"(?<=://)[^/@?#]*@", "", uri)


def _logged(url: httpx.URL) -> str:
    """Scheme, host and path only: queries may carry keys or tokens."""
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


def _reason(exc: BaseException) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _config_error(detail: str) -> WorkflowError:
    return WorkflowError(problem("configuration", title="Invalid Call", detail=detail))

