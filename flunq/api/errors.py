"""Turn Flunq's errors into problem+json answers; nothing escapes as a 500 traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flunq.api.responses import Problem
from flunq.errors import (
    BackendUnavailable,
    ConfigError,
    Conflict,
    DefinitionError,
    DefinitionErrors,
    FlunqError,
    NotFound,
)

log = logging.getLogger("flunq.api")


class BadRequest(FlunqError):
    """The request itself is malformed (not the workflow it carries)."""


async def flunq_error(request: Request, exc: Exception) -> Response:
    instance = request.url.path
    if isinstance(exc, DefinitionError):
        problems = exc.errors if isinstance(exc, DefinitionErrors) else [exc]
        return Problem(400, "Invalid Workflow Definition", exc.located(), instance=instance,
                       errors=[{"pointer": p.pointer, "line": p.line, "column": p.column, "message": p.message}
                               for p in problems])
    if isinstance(exc, BadRequest):
        return Problem(400, "Bad Request", exc.message, instance=instance)
    if isinstance(exc, NotFound):
        return Problem(404, "Not Found", exc.message, instance=instance)
    if isinstance(exc, Conflict):
        return Problem(409, "Conflict", exc.message, instance=instance)
    if isinstance(exc, BackendUnavailable):
        return Problem(503, "Service Unavailable", "a backend is unreachable; try again later", instance=instance)
    if isinstance(exc, ConfigError):
        return Problem(500, "Configuration Error", exc.message, instance=instance)
    log.error("unexpected error on %s %s: %s", request.method, instance, exc)
    return Problem(500, "Internal Server Error", instance=instance)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return Problem(exc.status_code, exc.detail, instance=request.url.path)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return Problem(500, "Internal Server Error", instance=request.url.path)
