"""The lean HTTP/1.1 transport against real local servers (asyncio, on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from flunq.effects.client import (
    ConnectFailed,
    InvalidRequest,
    ProtocolError,
    Request,
    TimedOut,
    parse_url,
)
from flunq.effects.lean import LeanTransport

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Session = Callable[[Reader, Writer, "Server"], Awaitable[None]]


class Server:
    """Runs ``session`` for each connection; counts connections and keeps the requests."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Server:
        self.server = await asyncio.start_server(self._serve, host, 0, ssl=tls)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: Reader, writer: Writer) -> None:
        self.connections += 1
        try:
            await self.session(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: Reader) -> bytes | None:
        """One request (head and Content-Length body), or ``None`` at the end of the stream."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        return request

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    started: list[Server] = []

    async def start(session: Session, **options: object) -> Server:
        server = await Server(session).start(**options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        await server.close()


@pytest.fixture
async def lean() -> AsyncIterator[LeanTransport]:
    transport = LeanTransport()
    yield transport
    await transport.aclose()


def answer(body: bytes = b"ok", status: str = "200 OK", headers: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


def replying(*replies: bytes) -> Session:
    """A keep-alive session answering its n-th request with ``replies[n]`` (the last repeats)."""

    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        count = 0
        while await server.read_request(reader) is not None:
            writer.write(replies[min(count, len(replies) - 1)])
            await writer.drain()
            count += 1

    return session


async def get(transport: LeanTransport, url: str, method: str = "GET", **options: object) -> object:
    return await transport.exchange(Request(method, url, **options))  # type: ignore[arg-type]


# --- connections -----------------------------------------------------------------------


async def test_keep_alive_connections_are_reused(serve: Callable[..., Awaitable[Server]], lean: LeanTransport) -> None:
    server = await serve(replying(answer(b'{"n": 1}', headers="Content-Type: application/json\r\n")))
    for _ in range(5):
        response = await lean.exchange(Request("GET", server.url("/a?b=1")))
        assert (response.status, response.reason, response.json()) == (200, "OK", {"n": 1})
        assert response.url == server.url("/a?b=1")
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port)


async def test_concurrent_requests_get_their_own_connections_and_the_idle_ones_are_capped(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    gate = asyncio.Event()

    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            await gate.wait()
            writer.write(answer())

    server = await serve(session)
    transport = LeanTransport(max_idle_per_host=2)
    try:
        calls = [asyncio.create_task(get(transport, server.url())) for _ in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*calls)
        assert server.connections == 5
        await asyncio.gather(*(get(transport, server.url()) for _ in range(2)))
        assert server.connections == 5  # two idle connections were kept and reused
        await asyncio.gather(*(get(transport, server.url()) for _ in range(3)))
        assert server.connections == 6
    finally:
        await transport.aclose()


async def test_connection_close_and_http_1_0_are_not_reused(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    server = await serve(replying(answer(headers="Connection: close\r\n")))
    await get(lean, server.url())
    await get(lean, server.url())
    assert server.connections == 2
    old = await serve(replying(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    await get(lean, old.url())
    await get(lean, old.url())
    assert old.connections == 2
    kept = await serve(replying(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"))
    await get(lean, kept.url())
    await get(lean, kept.url())
    assert kept.connections == 1


async def test_idle_connections_expire(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(replying(answer()))
    transport = LeanTransport(idle_timeout=0.05)
    try:
        await get(transport, server.url())
        await get(transport, server.url())
        assert server.connections == 1
        await asyncio.sleep(0.1)
        await get(transport, server.url())
        assert server.connections == 2
    finally:
        await transport.aclose()


async def test_a_stale_pooled_connection_is_retried_once_on_a_new_one(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(answer(b"first"))
        await writer.drain()
        await server.read_request(reader)  # the second request: hang up without a byte

    server = await serve(session)
    assert (await lean.exchange(Request("GET", server.url()))).body == b"first"
    response = await lean.exchange(Request("POST", server.url(), body=b"{}"))
    assert response.body == b"first"
    assert server.connections == 2
    assert len(server.requests) == 3  # first, the lost one, and its retry


async def test_a_new_connection_that_gets_no_answer_is_not_retried(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)

    server = await serve(session)
    with pytest.raises(ProtocolError, match="before answering"):
        await get(lean, server.url())
    assert server.connections == 1


async def test_a_server_dying_mid_response_is_a_protocol_error(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")

    server = await serve(session)
    with pytest.raises(ProtocolError, match="middle of the response"):
        await get(lean, server.url())


# --- bodies -----------------------------------------------------------------------------


async def test_chunked_bodies_with_extensions_and_trailers_arriving_byte_by_byte(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )

    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            for i in range(len(reply)):
                writer.write(reply[i:i + 1])
                await writer.drain()

    server = await serve(session)
    for _ in range(2):
        assert (await lean.exchange(Request("GET", server.url()))).body == b"hello, world"
    assert server.connections == 1


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
)
async def test_content_encodings_are_decoded(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    body = b'{"text": "' + b"squeeze me " * 100 + b'"}'
    server = await serve(replying(answer(encode(body), headers=f"Content-Encoding: {coding}\r\n")))
    response = await lean.exchange(Request("GET", server.url()))
    assert response.body == body
    assert response.header("content-encoding") == coding


async def test_a_body_delimited_by_the_end_of_the_connection(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await writer.drain()
        writer.write(b"the end")

    server = await serve(session)
    assert (await lean.exchange(Request("GET", server.url()))).body == b"until the end"
    assert (await lean.exchange(Request("GET", server.url()))).body == b"until the end"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("method", "status", "headers"),
    [
        ("HEAD", "200 OK", "Content-Length: 1000\r\n"),
        ("HEAD", "200 OK", "Transfer-Encoding: chunked\r\n"),
        ("GET", "204 No Content", ""),
        ("GET", "304 Not Modified", "Content-Length: 1000\r\n"),
    ],
)
async def test_responses_without_a_body(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport, method: str, status: str, headers: str
) -> None:
    server = await serve(replying(f"HTTP/1.1 {status}\r\n{headers}\r\n".encode()))
    for _ in range(2):
        response = await lean.exchange(Request(method, server.url()))
        assert (response.status, response.body) == (int(status[:3]), b"")
    assert server.connections == 1  # no body was waited for, and the connection is in step


async def test_interim_responses_are_skipped(serve: Callable[..., Awaitable[Server]], lean: LeanTransport) -> None:
    server = await serve(replying(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + answer(b"final")
    ))
    response = await lean.exchange(Request("POST", server.url(), body=b"x"))
    assert (response.status, response.body) == (200, b"final")
    assert response.header("link") is None


async def test_the_request_is_framed_with_host_and_content_length(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    server = await serve(replying(answer()))
    headers = [("X-Name", "café"), ("Content-Length", "999"), ("Transfer-Encoding", "chunked")]
    await lean.exchange(Request("PUT", server.url("/caf\u00e9 au lait?q=a b"), headers, b"12345"))
    await lean.exchange(Request("POST", server.url("/empty")))
    first, second = server.requests
    assert first.startswith(b"PUT /caf%C3%A9%20au%20lait?q=a%20b HTTP/1.1\r\n")
    assert b"\r\nX-Name: caf\xc3\xa9\r\n" in first
    assert b"\r\nContent-Length: 5\r\n\r\n12345" in first
    assert b"999" not in first and b"chunked" not in first
    assert b"\r\nContent-Length: 0\r\n" in second


# --- limits and failures ----------------------------------------------------------------


async def test_a_header_block_over_64_kib_is_refused(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    huge = "".join(f"X-Filler-{i}: {'x' * 1000}\r\n" for i in range(70))
    server = await serve(replying(answer(headers=huge)))
    with pytest.raises(ProtocolError, match="header block larger"):
        await get(lean, server.url())


@pytest.mark.parametrize(
    "reply",
    [
        answer(b"x" * 2000),  # declared too long
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"200\r\n" + b"x" * 512 + b"\r\n") * 2,
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 2000,  # until the end of the connection
        answer(gzip.compress(b"x" * 100_000), headers="Content-Encoding: gzip\r\n"),  # a small bomb
    ],
)
async def test_bodies_over_the_limit_are_refused(serve: Callable[..., Awaitable[Server]], reply: bytes) -> None:
    server = await serve(replying(reply))
    transport = LeanTransport(max_body=1000)
    try:
        with pytest.raises(ProtocolError, match="larger than 1000 bytes"):
            await get(transport, server.url())
    finally:
        await transport.aclose()


def test_a_transport_outlives_its_event_loop() -> None:
    # The CLI and the conformance runner call asyncio.run more than once with one context.
    transport = LeanTransport()

    async def once() -> bytes:
        server = await Server(replying(answer(b"hi"))).start()
        try:
            return (await transport.exchange(Request("GET", server.url()))).body
        finally:
            await server.close()

    assert asyncio.run(once()) == b"hi"
    assert asyncio.run(once()) == b"hi"
    asyncio.run(transport.aclose())


def test_the_default_limits_are_64_kib_of_headers_and_64_mib_of_body() -> None:
    transport = LeanTransport()
    assert (transport.max_head, transport.max_body) == (64 * 1024, 64 * 1024 * 1024)


@pytest.mark.parametrize(
    "reply",
    [b"HTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
)
async def test_malformed_responses_are_protocol_errors(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport, reply: bytes
) -> None:
    server = await serve(replying(reply))
    with pytest.raises(ProtocolError):
        await get(lean, server.url())


async def test_a_refused_connection_fails_to_connect(lean: LeanTransport) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectFailed):
        await get(lean, f"http://127.0.0.1:{port}/")


async def test_a_server_that_never_answers_times_out_and_its_connection_is_dropped(
    serve: Callable[..., Awaitable[Server]], lean: LeanTransport
) -> None:
    async def session(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        await reader.read()  # until the client hangs up

    server = await serve(session)
    with pytest.raises(TimedOut):
        await get(lean, server.url(), timeout=0.1)
    assert not lean._idle.get(("http", "127.0.0.1", server.port))


@pytest.mark.parametrize(
    ("url", "headers"),
    [("ftp://x.test/", []), ("not a uri", []), ("http://x.test:99999/", []), ("http:///path", []),
     ("http://x.test/", [("Bad Name", "v")]), ("http://x.test/", [("X-Split", "a\r\nInjected: yes")])],
)
def test_requests_that_cannot_be_sent_are_refused_before_any_io(url: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        Request("GET", url, headers)


def test_urls_are_normalised() -> None:
    where = parse_url("HTTPS://Us%40er:p%3Ass@B\u00fccher.Example:443/a b?x=é#frag")
    assert where.url == "https://xn--bcher-kva.example/a%20b?x=%C3%A9"
    assert where.userinfo == ("Us@er", "p:ss")
    assert (where.host, where.port, where.netloc) == ("xn--bcher-kva.example", 443, "xn--bcher-kva.example")
    assert parse_url("http://[::1]:8080").url == "http://[::1]:8080/"
    assert parse_url("http://x.test/already%20encoded?a=%2F").target == "/already%20encoded?a=%2F"


async def test_ipv6_literal_hosts(serve: Callable[..., Awaitable[Server]], lean: LeanTransport) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = await serve(replying(answer(b"six")), host="::1")
    except OSError:
        pytest.skip("cannot listen on ::1")
    response = await lean.exchange(Request("GET", server.url(host="[::1]")))
    assert response.body == b"six"
    assert b"\r\nHost: [::1]:%d\r\n" % server.port in server.requests[0]


# --- TLS ----------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key (PEM files)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is available")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
    return cert, key


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    alt = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1)).add_extension(alt, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


async def test_tls_with_a_trusted_self_signed_certificate(
    serve: Callable[..., Awaitable[Server]], tmp_path: Path, lean: LeanTransport
) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await serve(replying(answer(b"secret")), tls=tls)
    trusting = ssl.create_default_context(cafile=str(cert))
    transport = LeanTransport(ssl_context=trusting)
    try:
        for host in ("localhost", "127.0.0.1"):
            response = await transport.exchange(Request("GET", server.url(scheme="https", host=host)))
            assert response.body == b"secret"
    finally:
        await transport.aclose()
    with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):  # the default context distrusts it
        await lean.exchange(Request("GET", server.url(scheme="https", host="localhost")))
