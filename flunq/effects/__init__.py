"""Side effects, performed by the executor role for the interpreter's ``Perform`` commands.

The executor calls :func:`perform` with a command and its role's :class:`EffectContext`; it
gets the task's raw output (plain JSON data) or a :class:`~flunq.errors.WorkflowError`
carrying the problem object to report (without ``instance``: the interpreter sets it).

Handlers are looked up by ``command.kind`` in :data:`HANDLERS` (``http``, ``openapi``, and
whatever other effect modules register with :func:`register`). A kind without a handler
raises a ``runtime`` error with status 501 (``Not Implemented``): the definition is valid,
this runtime just cannot perform it. A handler that fails with an unexpected exception
raises a ``communication`` error (500) for the call kinds the DSL says must fail that way
(http, openapi, grpc, asyncapi) and a ``runtime`` error (500) for the others; the
traceback goes to the log, not into the problem.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from flunq.errors import ExpressionError, WorkflowError, problem

if TYPE_CHECKING:
    from flunq.effects.context import DocumentCache, EffectContext, TokenCache, TTLCache
    from flunq.interpreter.protocol import Perform

__all__ = [
    "HANDLERS",
    "DocumentCache",
    "EffectContext",
    "Handler",
    "TTLCache",
    "TokenCache",
    "perform",
    "register",
]

log = logging.getLogger(__name__)

#: An effect handler: the command's ``args`` and the shared context in, raw output out.
Handler = Callable[[dict[str, Any], "EffectContext"], Awaitable[Any]]


# The handlers import their modules on first use, so that importing this package (e.g. to
# read HANDLERS) does not pull in the HTTP client or YAML parsers.
async def _http(args: dict[str, Any], ctx: EffectContext) -> Any:
    from flunq.effects.http import call_http

    return await call_http(args, ctx)


async def _openapi(args: dict[str, Any], ctx: EffectContext) -> Any:
    from flunq.effects.openapi import call_openapi

    return await call_openapi(args, ctx)


async def _process(args: dict[str, Any], ctx: EffectContext, kind: str) -> Any:
    from flunq.effects import process

    runner = {"shell": process.run_shell, "script": process.run_script, "container": process.run_container}[kind]
    return await runner(args, ctx)


async def _shell(args: dict[str, Any], ctx: EffectContext) -> Any:
    return await _process(args, ctx, "shell")


async def _script(args: dict[str, Any], ctx: EffectContext) -> Any:
    return await _process(args, ctx, "script")


async def _container(args: dict[str, Any], ctx: EffectContext) -> Any:
    return await _process(args, ctx, "container")


HANDLERS: dict[str, Handler] = {
    "http": _http, "openapi": _openapi, "shell": _shell, "script": _script, "container": _container,
}

_LAZY = {name: "flunq.effects.context" for name in ("DocumentCache", "EffectContext", "TokenCache", "TTLCache")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Kinds whose failures the DSL requires to be ``communication`` errors (a2a/mcp: ``runtime``).
_COMMUNICATION_KINDS = frozenset({"http", "openapi", "grpc", "asyncapi"})


def register(kind: str, handler: Handler) -> None:
    """Make ``handler`` perform the effects of ``kind`` (replacing any previous one)."""
    HANDLERS[kind] = handler


async def perform(command: Perform, ctx: EffectContext) -> Any:
    """Perform one effect and return its raw output, or raise :class:`WorkflowError`."""
    handler = HANDLERS.get(command.kind)
    if handler is None:
        raise WorkflowError(
            problem(
                "runtime",
                title="Not Implemented",
                detail=f"this runtime cannot perform {command.kind!r} effects",
                status=501,
            )
        )
    try:
        return await handler(command.args, ctx)
    except WorkflowError:
        raise
    except ExpressionError as exc:
        error = exc.problem()
        error.pop("instance", None)  # the interpreter sets it
        raise WorkflowError(error) from exc
    except Exception as exc:
        log.exception("effect %s of task %s failed unexpectedly", command.effect_id, command.task)
        kind = "communication" if command.kind in _COMMUNICATION_KINDS else "runtime"
        raise WorkflowError(
            problem(kind, detail=f"{command.kind} effect failed: {type(exc).__name__}")
        ) from exc
