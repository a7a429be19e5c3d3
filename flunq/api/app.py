"""The Starlette application of the api role."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flunq.api import executions, workflows
from flunq.api.errors import flunq_error, http_error, unexpected
from flunq.api.responses import JSON
from flunq.engine import Engine
from flunq.errors import FlunqError

V1 = "/api/v1/{tenant}"


async def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


def create_app(engine: Engine) -> Starlette:
    routes = [
        Route("/healthz", healthz),
        Route(f"{V1}/workflows", workflows.register, methods=["POST"]),
        Route(f"{V1}/workflows", workflows.list_all, methods=["GET"]),
        Route(f"{V1}/workflows/{{namespace}}/{{name}}", workflows.read, methods=["GET"]),
        Route(f"{V1}/workflows/{{namespace}}/{{name}}", workflows.delete, methods=["DELETE"]),
        Route(f"{V1}/workflows/{{namespace}}/{{name}}/executions", executions.start, methods=["POST"]),
        Route(f"{V1}/workflows/{{namespace}}/{{name}}/{{version}}", workflows.read, methods=["GET"]),
        Route(f"{V1}/workflows/{{namespace}}/{{name}}/{{version}}", workflows.delete, methods=["DELETE"]),
        Route(f"{V1}/executions/{{id}}", executions.read, methods=["GET"]),
        Route(f"{V1}/executions/{{id}}/events", executions.events, methods=["GET"]),
        Route(f"{V1}/executions/{{id}}/cancel", executions.cancel, methods=["POST"]),
        Route(f"{V1}/executions/{{id}}/suspend", executions.suspend, methods=["POST"]),
        Route(f"{V1}/executions/{{id}}/resume", executions.resume, methods=["POST"]),
    ]
    handlers = {FlunqError: flunq_error, HTTPException: http_error, Exception: unexpected}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.engine = engine
    return app
