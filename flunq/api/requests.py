"""Reading request parts safely: path names, bodies, query numbers."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request

from flunq.api.errors import BadRequest

NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
MAX_BODY = 5 * 1024 * 1024


def name_param(request: Request, key: str) -> str:
    value = request.path_params[key]
    if not NAME.match(value):
        raise BadRequest(f"{key} '{value}' must be 1-63 letters, digits or '-' (not at either end)")
    return value


async def body_bytes(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"request body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request) -> Any:
    raw = await body_bytes(request)
    if not raw.strip():
        return {}
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def number_param(request: Request, key: str, *, low: float, high: float) -> float | None:
    raw = request.query_params.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"query parameter {key} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"query parameter {key} must be between {low:g} and {high:g}")
    return value
