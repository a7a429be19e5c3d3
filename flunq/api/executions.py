"""``/api/v1/{tenant}/...executions``: start, read, journal, cancel/suspend/resume."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flunq.api.errors import BadRequest
from flunq.api.requests import json_body, name_param, number_param
from flunq.api.responses import JSON
from flunq.api.views import execution_view
from flunq.api.workflows import engine_of
from flunq.interpreter.protocol import CancelRequested, ResumeRequested, SuspendRequested
from flunq.interpreter.times import now_iso

MAX_WAIT = 300.0


async def start(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    namespace, name = name_param(request, "namespace"), name_param(request, "name")
    wait = number_param(request, "wait", low=0, high=MAX_WAIT)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest('the body must be an object: {"input": ..., "version"?, "correlationId"?}')
    unknown = set(body) - {"input", "version", "correlationId"}
    if unknown:
        raise BadRequest(f"unknown member(s) {', '.join(sorted(unknown))}; expected input, version, correlationId")
    version: str | None = body.get("version")
    correlation: str | None = body.get("correlationId")
    for member, value in (("version", version), ("correlationId", correlation)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{member} must be a string")
    key = request.headers.get("idempotency-key")
    engine = engine_of(request)
    record, created = await engine.start(
        tenant, namespace, name, body.get("input"), version=version, correlation_id=correlation, idempotency_key=key,
    )
    if wait:
        record = await engine.wait(tenant, record.id, wait)
    location = f"/api/v1/{tenant}/executions/{record.id}"
    return JSON(execution_view(record), status_code=201 if created else 200, headers={"Location": location})


async def read(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    engine = engine_of(request)
    execution_id = request.path_params["id"]
    wait = number_param(request, "wait", low=0, high=MAX_WAIT)
    if wait:
        record = await engine.wait(tenant, execution_id, wait)
    else:
        record = await engine.store.get_execution(tenant, execution_id)
    return JSON(execution_view(record))


async def events(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    after = number_param(request, "after", low=0, high=2**62) or 0
    entries = await engine_of(request).store.read_journal(tenant, request.path_params["id"], after=int(after))
    items = []
    for entry in entries:
        if entry.kind == "event":
            items.append(entry.data)
        else:
            items.append({"specversion": "1.0", "id": f"{request.path_params['id']}:{entry.seq}",
                          "source": "flunq/journal", "type": f"io.flunq.fact.{entry.type}.v1",
                          "time": entry.at, "subject": request.path_params["id"],
                          "datacontenttype": "application/json", "data": entry.data})
        items[-1] = {**items[-1], "flunqseq": entry.seq}
    return JSON({"items": items})


async def _steer(request: Request, fact_type: type) -> Response:
    tenant = name_param(request, "tenant")
    record = await engine_of(request).send(tenant, request.path_params["id"], fact_type(at=now_iso()))
    return JSON(execution_view(record), status_code=202)


async def cancel(request: Request) -> Response:
    return await _steer(request, CancelRequested)


async def suspend(request: Request) -> Response:
    return await _steer(request, SuspendRequested)


async def resume(request: Request) -> Response:
    return await _steer(request, ResumeRequested)
