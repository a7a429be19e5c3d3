"""The ``call: http`` effect against mock transports and, for a few cases, real sockets."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from flunq.effects import EffectContext, perform
from flunq.errors import ERROR_TYPE_PREFIX, WorkflowError
from flunq.interpreter.protocol import Perform

PET = {"id": 1, "name": "doggie", "status": "available"}
Handler = Callable[[httpx.Request], Any]


@pytest.fixture
async def make_ctx() -> AsyncIterator[Callable[..., EffectContext]]:
    opened: list[tuple[EffectContext, httpx.AsyncClient]] = []

    def make(handler: Handler, **options: Any) -> EffectContext:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        ctx = EffectContext(client, **options)
        opened.append((ctx, client))
        return ctx

    yield make
    for ctx, client in opened:
        await ctx.aclose()
        await client.aclose()


async def call(ctx: EffectContext, **args: Any) -> Any:
    args.setdefault("method", "get")
    return await perform(Perform(effect_id="/do/0/t", kind="http", args=args, task="/do/0/t"), ctx)


async def failure(ctx: EffectContext, **args: Any) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await call(ctx, **args)
    return caught.value.problem


def recorder(response: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return seen, handler


async def test_json_content_is_deserialised(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(200, json=PET))
    result = await call(make_ctx(handler), uri="https://petstore.swagger.io/v2/pet/1")
    assert result == PET
    assert seen[0].method == "GET"
    assert seen[0].headers["accept"].startswith("application/json")
    assert seen[0].content == b""


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"content-type": "text/plain; charset=utf-8"}, b"hello", "hello"),
        ({"content-type": "application/problem+json"}, b'{"a": 1}', {"a": 1}),
        ({"content-type": "application/json"}, b"not json", "not json"),
        ({}, b"[1, 2]", [1, 2]),
        ({"content-type": "text/html; charset=latin-1"}, "é".encode("latin-1"), "é"),
        ({"content-type": "image/png"}, b"\x89PNG\xff\xfe", base64.b64encode(b"\x89PNG\xff\xfe").decode()),
        ({"content-type": "application/json"}, b"", None),
    ],
)
async def test_content_follows_the_media_type(
    make_ctx: Callable[..., EffectContext], headers: dict[str, str], body: bytes, expected: Any
) -> None:
    _, handler = recorder(httpx.Response(200, headers=headers, content=body))
    assert await call(make_ctx(handler), uri="https://x.test/") == expected


async def test_raw_output_is_base64(make_ctx: Callable[..., EffectContext]) -> None:
    _, handler = recorder(httpx.Response(200, json=PET))
    result = await call(make_ctx(handler), uri="https://x.test/", output="raw")
    assert json.loads(base64.b64decode(result)) == PET


async def test_response_output_describes_request_and_response(
    make_ctx: Callable[..., EffectContext],
) -> None:
    _, handler = recorder(httpx.Response(200, json=PET, headers={"X-Trace": "abc"}))
    result = await call(make_ctx(handler), uri="https://petstore.swagger.io/v2/pet/1", output="response")
    assert result["statusCode"] == 200
    assert result["content"] == PET
    assert result["headers"]["x-trace"] == "abc"
    assert result["headers"]["content-type"] == "application/json"
    assert result["request"]["method"] == "GET"
    assert result["request"]["uri"] == "https://petstore.swagger.io/v2/pet/1"
    assert result["request"]["headers"]["accept"].startswith("application/json")
    json.dumps(result)  # plain JSON data, ready for the journal


async def test_response_output_never_shows_credentials(make_ctx: Callable[..., EffectContext]) -> None:
    _, handler = recorder(httpx.Response(200, json=PET))
    result = await call(
        make_ctx(handler),
        uri="https://x.test/",
        output="response",
        headers={"Cookie": "session=s3cr3t"},
        authentication={"bearer": {"token": "t0ken"}},
    )
    text = json.dumps(result)
    assert "t0ken" not in text and "s3cr3t" not in text
    assert result["request"]["headers"]["authorization"] == "[redacted]"


async def test_headers_and_query_are_sent(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(200, json={}))
    await call(
        make_ctx(handler),
        method="delete",
        uri="https://x.test/items?a=1&b=old",
        headers={"X-Id": "42", "Accept": "text/csv", "X-Count": 3},
        query={"b": "two words", "n": 5, "flag": True, "tag": ["x", "y"]},
    )
    request = seen[0]
    assert request.method == "DELETE"
    assert request.headers["x-id"] == "42"
    assert request.headers["x-count"] == "3"
    assert request.headers["accept"] == "text/csv"  # the call's own headers win
    assert request.url.params.multi_items() == [
        ("a", "1"), ("b", "two words"), ("n", "5"), ("flag", "true"), ("tag", "x"), ("tag", "y"),
    ]


@pytest.mark.parametrize(
    ("body", "headers", "content_type", "sent"),
    [
        ({"name": "rex", "tags": [1]}, {}, "application/json", b'{"name":"rex","tags":[1]}'),
        ([1, "é"], {}, "application/json", '[1,"é"]'.encode()),
        ("plain words", {}, "text/plain; charset=utf-8", b"plain words"),
        (0, {}, "application/json", b"0"),
        ({"a": "b c", "n": 1}, {"Content-Type": "application/x-www-form-urlencoded"},
         "application/x-www-form-urlencoded", b"a=b+c&n=1"),
        ({"a": 1}, {"Content-Type": "application/vnd.api+json"}, "application/vnd.api+json", b'{"a":1}'),
    ],
)
async def test_bodies_are_encoded_by_type(
    make_ctx: Callable[..., EffectContext], body: Any, headers: dict[str, str], content_type: str, sent: bytes
) -> None:
    seen, handler = recorder(httpx.Response(201, json={"ok": True}))
    await call(make_ctx(handler), method="post", uri="https://x.test/", body=body, headers=headers)
    assert seen[0].headers["content-type"] == content_type
    assert seen[0].content == sent


async def test_error_status_is_a_communication_error_with_the_real_status(
    make_ctx: Callable[..., EffectContext],
) -> None:
    _, handler = recorder(httpx.Response(404, json={"message": "Pet not found"}))
    error = await failure(make_ctx(handler), uri="https://petstore.swagger.io/v2/pet/getPetByName/Milou")
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert error["status"] == 404
    assert error["title"] == "Not Found"
    assert "GET https://petstore.swagger.io/v2/pet/getPetByName/Milou" in error["detail"]
    assert "Pet not found" in error["detail"]
    assert "instance" not in error


async def test_error_detail_keeps_only_an_excerpt_of_the_body(make_ctx: Callable[..., EffectContext]) -> None:
    _, handler = recorder(httpx.Response(503, text="x" * 5000))
    error = await failure(make_ctx(handler), uri="https://x.test/")
    assert (error["status"], error["title"]) == (503, "Service Unavailable")
    assert len(error["detail"]) < 300


async def test_without_redirect_a_3xx_is_an_error_and_not_followed(
    make_ctx: Callable[..., EffectContext],
) -> None:
    seen, handler = recorder(httpx.Response(302, headers={"Location": "https://x.test/new"}))
    error = await failure(make_ctx(handler), uri="https://x.test/old")
    assert (error["status"], error["title"]) == (302, "Found")
    assert [str(r.url) for r in seen] == ["https://x.test/old"]


async def test_with_redirect_3xx_are_followed(make_ctx: Callable[..., EffectContext]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "/new"})
        return httpx.Response(200, json={"at": request.url.path})

    ctx = make_ctx(handler)
    assert await call(ctx, uri="https://x.test/old", redirect=True) == {"at": "/new"}
    result = await call(ctx, uri="https://x.test/old", redirect=True, output="response")
    assert result["request"]["uri"] == "https://x.test/new"


async def test_with_redirect_an_unfollowable_3xx_is_accepted_and_4xx_is_not(
    make_ctx: Callable[..., EffectContext],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/same":
            return httpx.Response(304)
        return httpx.Response(400, text="bad")

    ctx = make_ctx(handler)
    result = await call(ctx, uri="https://x.test/same", redirect=True, output="response")
    assert result["statusCode"] == 304
    error = await failure(ctx, uri="https://x.test/bad", redirect=True)
    assert (error["status"], error["title"]) == (400, "Bad Request")


async def test_timeouts_are_communication_errors_504(make_ctx: Callable[..., EffectContext]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error = await failure(make_ctx(handler), uri="https://slow.test/x")
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert (error["status"], error["title"]) == (504, "Gateway Timeout")
    assert "https://slow.test/x" in error["detail"]


@pytest.mark.parametrize("uri", ["not a uri", "ftp://x.test/file", "https://x.test:99999/"])
async def test_invalid_uris_are_communication_errors_500(
    make_ctx: Callable[..., EffectContext], uri: str
) -> None:
    _, handler = recorder(httpx.Response(200))
    error = await failure(make_ctx(handler), uri=uri)
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert error["status"] == 500


async def test_user_information_never_appears_in_errors(make_ctx: Callable[..., EffectContext]) -> None:
    _, handler = recorder(httpx.Response(500, text="boom"))
    error = await failure(make_ctx(handler), uri="https://bob:hunter2@x.test/a")
    assert "hunter2" not in json.dumps(error)
    assert "https://x.test/a" in error["detail"]


@pytest.mark.parametrize(
    "args",
    [{"uri": "https://x.test/", "method": ""}, {"uri": ""}, {"uri": "https://x.test/", "output": "xml"},
     {"uri": "https://x.test/", "headers": ["a"]}, {"uri": "https://x.test/", "headers": {"a": {"b": 1}}}],
)
async def test_malformed_arguments_are_configuration_errors(
    make_ctx: Callable[..., EffectContext], args: dict[str, Any]
) -> None:
    _, handler = recorder(httpx.Response(200))
    error = await failure(make_ctx(handler), **args)
    assert error["type"] == ERROR_TYPE_PREFIX + "configuration"
    assert error["status"] == 400


# --- real sockets -----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_a_communication_error_500() -> None:
    uri = f"http://127.0.0.1:{closed_port()}/pets"
    async with EffectContext(timeout=5) as ctx:
        error = await failure(ctx, uri=uri)
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert error["status"] == 500
    assert uri in error["detail"]


async def serve(reply: bytes | None) -> asyncio.Server:
    """A one-shot HTTP/1.1 server answering ``reply`` verbatim (or never, when ``None``)."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if reply is None:
                await reader.read()  # until the client gives up and hangs up
            else:
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    return await asyncio.start_server(on_client, "127.0.0.1", 0)


async def test_real_server_status_line_gives_the_title() -> None:
    body = b'{"error": "teapot"}'
    reply = (
        b"HTTP/1.1 418 I'm a teapot\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    server = await serve(reply)
    port = server.sockets[0].getsockname()[1]
    async with server, EffectContext(timeout=5) as ctx:
        error = await failure(ctx, uri=f"http://127.0.0.1:{port}/brew")
    assert (error["status"], error["title"]) == (418, "I'm a teapot")
    assert "teapot" in error["detail"]


async def test_real_server_that_never_answers_times_out() -> None:
    server = await serve(None)
    port = server.sockets[0].getsockname()[1]
    async with server, EffectContext(timeout=0.2) as ctx:
        error = await failure(ctx, uri=f"http://127.0.0.1:{port}/slow")
    assert error["status"] == 504


# --- redirects, credentials, defaults ---------------------------------------------------


def redirecting(status: int, location: str) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/from":
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200, json={"method": request.method, "body": request.content.decode()})

    return seen, handler


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [(303, "post", "GET"), (303, "put", "GET"), (302, "post", "GET"), (301, "post", "GET"),
     (302, "delete", "DELETE"), (307, "post", "POST"), (308, "put", "PUT")],
)
async def test_redirects_change_the_method_as_browsers_do(
    make_ctx: Callable[..., EffectContext], status: int, method: str, expected: str
) -> None:
    seen, handler = redirecting(status, "/to")
    result = await call(make_ctx(handler), method=method, uri="https://x.test/from", body={"a": 1}, redirect=True)
    assert result["method"] == expected
    to = seen[1]
    if expected == "GET":
        assert result["body"] == ""
        assert "content-type" not in to.headers and "content-length" not in to.headers
    else:
        assert result["body"] == '{"a":1}'
        assert to.headers["content-type"] == "application/json"


async def test_credentials_do_not_follow_a_redirect_to_another_host(
    make_ctx: Callable[..., EffectContext],
) -> None:
    seen, handler = redirecting(302, "https://elsewhere.test/to")
    ctx = make_ctx(handler)
    await call(ctx, uri="https://x.test/from", redirect=True, authentication={"bearer": {"token": "t"}},
               headers={"Cookie": "c=1", "X-Keep": "yes"})
    assert seen[0].headers["authorization"] == "Bearer t"
    assert seen[1].url.host == "elsewhere.test"
    assert "authorization" not in seen[1].headers and "cookie" not in seen[1].headers
    assert seen[1].headers["x-keep"] == "yes"
    assert seen[1].headers["host"] == "elsewhere.test"


async def test_credentials_follow_a_redirect_on_the_same_host(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = redirecting(307, "/to")
    await call(make_ctx(handler), uri="https://x.test/from", redirect=True, authentication={"bearer": {"token": "t"}})
    assert [r.headers.get("authorization") for r in seen] == ["Bearer t", "Bearer t"]


async def test_too_many_redirects_are_a_communication_error_500(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(302, headers={"Location": "/again"}))
    error = await failure(make_ctx(handler, max_redirects=3), uri="https://x.test/loop", redirect=True)
    assert error["status"] == 500
    assert "more than 3 redirects" in error["detail"]
    assert len(seen) == 4


async def test_a_redirect_to_another_scheme_is_a_communication_error_500(
    make_ctx: Callable[..., EffectContext],
) -> None:
    _, handler = recorder(httpx.Response(301, headers={"Location": "ftp://x.test/file"}))
    error = await failure(make_ctx(handler), uri="https://x.test/a", redirect=True)
    assert error["status"] == 500
    assert "invalid URI" in error["detail"]


async def test_user_information_authenticates_like_basic(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(200, json={}))
    result = await call(make_ctx(handler), uri="https://bob:hunter%202@x.test/a", output="response")
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(b"bob:hunter 2").decode()
    assert seen[0].url.userinfo == b""
    assert "hunter" not in json.dumps(result)
    assert result["request"]["uri"] == "https://x.test/a"


async def test_default_headers_and_the_ones_a_call_overrides(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(200, json={}))
    ctx = make_ctx(handler)
    await call(ctx, uri="https://x.test:8443/")
    await call(ctx, uri="https://x.test/", headers={"user-agent": "mine", "Accept-Encoding": "identity"})
    assert seen[0].headers["user-agent"] == "flunq"
    assert seen[0].headers["accept-encoding"] == "gzip, deflate"
    assert seen[0].headers["host"] == "x.test:8443"
    assert (seen[1].headers["user-agent"], seen[1].headers["accept-encoding"]) == ("mine", "identity")
    assert seen[1].headers.get_list("user-agent") == ["mine"]


async def test_header_values_cannot_smuggle_headers(make_ctx: Callable[..., EffectContext]) -> None:
    seen, handler = recorder(httpx.Response(200))
    error = await failure(make_ctx(handler), uri="https://x.test/", headers={"X-A": "1\r\nX-Injected: yes"})
    assert (error["type"], error["status"]) == (ERROR_TYPE_PREFIX + "communication", 500)
    assert seen == []


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.RemoteProtocolError("garbage"), httpx.UnsupportedProtocol("x")]
)
async def test_injected_transport_failures_are_communication_errors_500(
    make_ctx: Callable[..., EffectContext], exc: Exception
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    error = await failure(make_ctx(handler), uri="https://x.test/a?k=1")
    assert (error["type"], error["status"]) == (ERROR_TYPE_PREFIX + "communication", 500)
    assert "https://x.test/a?k=1" in error["detail"] and type(exc).__name__ in error["detail"]


async def test_real_server_gzip_and_keep_alive_through_the_default_transport() -> None:
    body = gzip.compress(json.dumps({"pets": ["rex"] * 200}).encode())
    requests: list[bytes] = []
    connections = 0

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                requests.append(await reader.readuntil(b"\r\n\r\n"))
            except asyncio.IncompleteReadError:
                break
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
        writer.close()
        hung_up.set()

    hung_up = asyncio.Event()
    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        async with EffectContext(timeout=5) as ctx:
            for _ in range(2):
                assert await call(ctx, uri=f"http://127.0.0.1:{port}/pets") == {"pets": ["rex"] * 200}
        await asyncio.wait_for(hung_up.wait(), 5)  # closing the context closed the connection
    assert (len(requests), connections) == (2, 1)
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in requests[0]
