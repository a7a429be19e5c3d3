"""JSON and problem+json responses, encoded with msgspec."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


class Problem(Response):
    """An RFC 7807 problem object; ``extra`` members are added to it (e.g. ``errors``)."""

    media_type = "application/problem+json"

    def __init__(self, status: int, title: str, detail: str | None = None, *, instance: str | None = None,
                 **extra: Any) -> None:
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if detail is not None:
            body["detail"] = detail
        if instance is not None:
            body["instance"] = instance
        body.update(extra)
        super().__init__(_encoder.encode(body), status_code=status)
