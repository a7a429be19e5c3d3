"""HTTP/1.1 on the wire: request bytes out, one response parsed from the bytes that come in.

The parser reads a response incrementally (:meth:`ResponseParser.feed` as bytes arrive,
:meth:`ResponseParser.feed_eof` when the server closes), skipping interim ``1xx``
responses. The body is delimited by ``Transfer-Encoding: chunked`` (trailers read and
ignored), by ``Content-Length``, or by the end of the connection; ``HEAD`` responses,
``204`` and ``304`` have none. Limits: the header block (and the trailers) at most
``max_head`` bytes, the body (before and after content decoding) at most ``max_body``.
"""

from __future__ import annotations

import zlib

from flunq.effects.client import ProtocolError, Request

__all__ = ["MAX_BODY", "MAX_HEAD", "ResponseParser", "decode_body", "encode_request"]

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
_INLINE_BODY = 64 * 1024  # smaller bodies are joined to the head: one write, one packet

# Body framing, decided once the head is read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _UNTIL_CLOSE, _DONE = range(7)


def encode_request(request: Request) -> list[bytes]:
    """The bytes to write for ``request``: its head, then its body when it has a large one."""
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    lines.append("\r\n")
    head = "\r\n".join(lines).encode()
    body = request.body
    if not body:
        return [head]
    if len(body) <= _INLINE_BODY:
        return [head + body]
    return [head, body]


class ResponseParser:
    """Parses the one response to a request (``head_only`` for ``HEAD`` requests)."""

    __slots__ = (
        "body", "buffer", "encoding", "headers", "keep_alive", "max_body", "max_head", "no_body",
        "pos", "reason", "received", "remaining", "state", "status",
    )

    def __init__(self, *, head_only: bool = False, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> None:
        self.no_body = head_only
        self.max_head = max_head
        self.max_body = max_body
        self.buffer = bytearray()
        self.pos = 0  # start of the unparsed bytes in ``buffer``
        self.state = _HEAD
        self.received = False  # any byte of a response yet: a reused connection that
        # fails before it was not answered at all and may be retried
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.encoding: str | None = None  # Content-Encoding
        self.keep_alive = True
        self.remaining = 0
        self.body = bytearray()

    @property
    def done(self) -> bool:
        return self.state == _DONE

    def feed(self, data: bytes) -> bool:
        """Take more bytes; ``True`` once the response is complete."""
        self.received = True
        self.buffer += data
        while True:
            state = self.state
            if state == _HEAD:
                if not self._head():
                    return False
            elif state == _LENGTH:
                return self._length()
            elif state == _UNTIL_CLOSE:
                self._take_rest()
                return False
            elif state == _DONE:
                return True
            elif not self._chunked():
                return False

    def feed_eof(self) -> bool:
        """The server closed the connection: ``True`` if that completes the response."""
        if self.state == _UNTIL_CLOSE:
            self._take_rest()
            self.state = _DONE
            self.keep_alive = False
            return True
        if self.state == _DONE:
            return True
        raise ProtocolError(
            "the server closed the connection before answering"
            if not self.received
            else "the server closed the connection in the middle of the response"
        )

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request (nothing unexpected is left)."""
        return self.keep_alive and self.state == _DONE and self.pos == len(self.buffer)

    # --- head -------------------------------------------------------------------------

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n", self.pos)
        if end < 0:
            if len(self.buffer) - self.pos > self.max_head:
                raise ProtocolError(f"response header block larger than {self.max_head} bytes")
            return False
        if end - self.pos > self.max_head:
            raise ProtocolError(f"response header block larger than {self.max_head} bytes")
        raw = bytes(self.buffer[self.pos:end])
        self.pos = end + 4
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        lines = text.split("\r\n")
        status, reason, http10 = _status_line(lines[0])
        if 100 <= status < 200:
            if status == 101:
                raise ProtocolError("the server switched protocols, which this client does not speak")
            return True  # an interim response (100 Continue, 103 Early Hints): read on
        self.status, self.reason = status, reason
        self._framing(_header_lines(lines), http10)
        return True

    def _framing(self, headers: list[tuple[str, str]], http10: bool) -> None:
        self.headers = headers
        length: str | None = None
        chunked = False
        transfer = False
        connection = ""
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                if length is not None and value != length:
                    raise ProtocolError("conflicting Content-Length headers")
                length = value
            elif lower == "transfer-encoding":
                transfer = True
                chunked = value.rsplit(",", 1)[-1].strip().lower() == "chunked"
            elif lower == "connection":
                connection = value.lower()
            elif lower == "content-encoding":
                self.encoding = value
        tokens = {t.strip() for t in connection.split(",")}
        # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to.
        self.keep_alive = "keep-alive" in tokens if http10 else "close" not in tokens
        if self.no_body or self.status in (204, 304):
            self.state = _DONE
        elif transfer:
            # RFC 9112 §6.3: Transfer-Encoding wins over Content-Length.
            self.state = _CHUNK_SIZE if chunked else _UNTIL_CLOSE
        elif length is not None:
            self.remaining = _content_length(length, self.max_body)
            self.state = _LENGTH
        else:
            self.state = _UNTIL_CLOSE
        if self.state == _UNTIL_CLOSE:
            self.keep_alive = False

    # --- bodies -----------------------------------------------------------------------

    def _length(self) -> bool:
        available = len(self.buffer) - self.pos
        if available < self.remaining:
            return False
        end = self.pos + self.remaining
        self.body = self.buffer[self.pos:end]
        self.pos = end
        self.state = _DONE
        return True

    def _take_rest(self) -> None:
        self.body += self.buffer[self.pos:]
        del self.buffer[:]
        self.pos = 0
        if len(self.body) > self.max_body:
            raise ProtocolError(f"response body larger than {self.max_body} bytes")

    def _chunked(self) -> bool:
        """Advance through chunks; ``False`` when more bytes are needed."""
        buffer = self.buffer
        if self.state == _CHUNK_DATA:
            if len(buffer) - self.pos < self.remaining + 2:
                return False
            end = self.pos + self.remaining
            if buffer[end:end + 2] != b"\r\n":
                raise ProtocolError("malformed chunked body")
            self.body += buffer[self.pos:end]
            self.pos = end + 2
            self.state = _CHUNK_SIZE
            self._compact()
            return True
        line = self._line()
        if line is None:
            return False
        if self.state == _TRAILERS:
            if not line:
                self.state = _DONE
            return True
        size = _chunk_size(line)
        if size == 0:
            self.state = _TRAILERS
        else:
            if len(self.body) + size > self.max_body:
                raise ProtocolError(f"response body larger than {self.max_body} bytes")
            self.remaining = size
            self.state = _CHUNK_DATA
        return True

    def _line(self) -> bytes | None:
        end = self.buffer.find(b"\r\n", self.pos)
        if end < 0:
            if len(self.buffer) - self.pos > self.max_head:
                raise ProtocolError("chunk header or trailer too long")
            return None
        line = bytes(self.buffer[self.pos:end])
        self.pos = end + 2
        return line

    def _compact(self) -> None:
        # Drop consumed bytes now and then, so that a long body is not kept twice.
        if self.pos > 1 << 20:
            del self.buffer[:self.pos]
            self.pos = 0


def _status_line(line: str) -> tuple[int, str, bool]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProtocolError(f"malformed status line {line[:100]!r}")
    return int(code), reason.strip(), version == "HTTP/1.0"


def _header_lines(lines: list[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding: part of the last value
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:100]!r}")
        headers.append((name, value.strip()))
    return headers


def _content_length(value: str, limit: int) -> int:
    first = value.split(",", 1)[0].strip()  # "5, 5" is allowed when all agree
    if not first.isdigit() or any(v.strip() != first for v in value.split(",")):
        raise ProtocolError(f"invalid Content-Length {value[:40]!r}")
    length = int(first)
    if length > limit:
        raise ProtocolError(f"response body larger than {limit} bytes")
    return length


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    try:
        if not text or len(text) > 16:
            raise ValueError
        return int(text, 16)
    except ValueError:
        raise ProtocolError(f"invalid chunk size {line[:40]!r}") from None


def decode_body(encoding: str, body: bytes, max_body: int = MAX_BODY) -> bytes:
    """Undo the ``gzip``/``deflate`` codings of ``Content-Encoding`` (others stay as sent)."""
    for coding in reversed([c.strip().lower() for c in encoding.split(",")]):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, max_body)
        elif coding == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS, max_body)
            except ProtocolError:  # some servers send raw deflate without the zlib wrapper
                body = _inflate(body, -zlib.MAX_WBITS, max_body)
        elif coding not in ("identity", ""):
            break  # a coding we did not ask for: hand the body over as it came
    return body


def _inflate(body: bytes, wbits: int, max_body: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_body + 1)
    except zlib.error as exc:
        raise ProtocolError(f"undecodable response body: {exc}") from None
    if len(out) > max_body or inflater.unconsumed_tail:
        raise ProtocolError(f"decoded response body larger than {max_body} bytes")
    return out
