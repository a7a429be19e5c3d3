"""``/api/v1/{tenant}/workflows``: register, list, read and delete workflow versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flunq.api.errors import BadRequest
from flunq.api.requests import body_bytes, name_param
from flunq.api.responses import JSON
from flunq.api.views import definition_view
from flunq.engine import Engine
from flunq.errors import NotFound


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def register(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    raw = await body_bytes(request)
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the workflow document must be UTF-8 text (YAML or JSON)") from None
    record, _ = await engine_of(request).register(tenant, source)
    location = f"/api/v1/{tenant}/workflows/{record.namespace}/{record.name}/{record.version}"
    return JSON(definition_view(record), status_code=201, headers={"Location": location})


async def list_all(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    records = await engine_of(request).store.list_definitions(tenant)
    return JSON({"items": [definition_view(r) for r in records]})


async def read(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    namespace, name = name_param(request, "namespace"), name_param(request, "name")
    version = request.path_params.get("version")
    store = engine_of(request).store
    if version is None:
        records = await store.list_definitions(tenant, namespace, name)
        if not records:
            raise NotFound(f"no workflow {namespace}/{name}")
        return JSON({"items": [definition_view(r) for r in records]})
    record = await store.get_definition(tenant, namespace, name, None if version == "latest" else version)
    return JSON(definition_view(record, source=True))


async def delete(request: Request) -> Response:
    tenant = name_param(request, "tenant")
    namespace, name = name_param(request, "namespace"), name_param(request, "name")
    deleted = await engine_of(request).store.delete_definition(
        tenant, namespace, name, request.path_params.get("version")
    )
    if not deleted:
        raise NotFound(f"no workflow {namespace}/{name}")
    return Response(status_code=204)
