"""The ``call: openapi`` effect: Swagger 2.0 and OpenAPI 3 documents over a mock transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from flunq.effects import EffectContext, perform
from flunq.effects.openapi import find_operation
from flunq.errors import ERROR_TYPE_PREFIX, WorkflowError
from flunq.interpreter.protocol import Perform

SWAGGER_URI = "https://petstore.swagger.io/v2/swagger.json"
OPENAPI_URI = "https://docs.test/specs/shop.yaml"
PET = {"id": 1, "name": "doggie", "status": "available"}

SWAGGER: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "pets", "version": "1"},
    "host": "petstore.swagger.io",
    "basePath": "/v2",
    "schemes": ["http", "https"],
    "produces": ["application/xml"],
    "parameters": {"petId": {"name": "petId", "in": "path", "required": True, "type": "integer"}},
    "paths": {
        "/pet/findByStatus": {
            "get": {
                "operationId": "findPetsByStatus",
                "produces": ["application/json", "application/xml"],
                "parameters": [
                    {"name": "status", "in": "query", "required": True, "type": "array",
                     "items": {"type": "string"}, "collectionFormat": "multi"},
                ],
            }
        },
        "/pet/findByTags": {
            "get": {
                "operationId": "findPetsByTags",
                "parameters": [{"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}}],
            }
        },
        "/pet/{petId}": {
            "parameters": [{"$ref": "#/parameters/petId"}],
            "get": {
                "operationId": "getPetById",
                "produces": ["application/json"],
                "parameters": [{"name": "api_key", "in": "header", "type": "string"}],
            },
            "post": {
                "operationId": "updatePetWithForm",
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {"name": "name", "in": "formData", "type": "string"},
                    {"name": "status", "in": "formData", "type": "string"},
                ],
            },
        },
        "/pet": {
            "post": {
                "operationId": "addPet",
                "consumes": ["application/json"],
                "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"type": "object"}}],
            }
        },
    },
}

OPENAPI_YAML = """\
openapi: 3.0.3
info: {title: shop, version: "1"}
servers:
  - url: /api/{version}
    variables:
      version: {default: v3}
components:
  parameters:
    Tenant: {name: X-Tenant, in: header, required: true, schema: {type: string}}
  requestBodies:
    Order:
      required: true
      content:
        application/json: {schema: {type: object}}
paths:
  /orders:
    post:
      operationId: createOrder
      parameters:
        - $ref: '#/components/parameters/Tenant'
        - {name: dryRun, in: query, schema: {type: boolean}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody: {$ref: '#/components/requestBodies/Order'}
      responses:
        '201':
          description: created
          content:
            application/hal+json: {schema: {type: object}}
  /orders/{id}/items:
    get:
      operationId: listItems
      servers: [{url: 'https://items.test/v1'}]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: sku, in: query, schema: {type: array}}
        - {name: size, in: query, explode: false, schema: {type: array}}
        - {name: filter, in: query, style: deepObject, schema: {type: object}}
      responses:
        default:
          description: items
          content:
            text/csv: {schema: {type: string}}
"""


class Api:
    """Serves the documents and answers the operations, recording every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.document_fetches = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == SWAGGER_URI:
            self.document_fetches += 1
            return httpx.Response(200, json=SWAGGER)
        if url == OPENAPI_URI:
            self.document_fetches += 1
            return httpx.Response(200, text=OPENAPI_YAML, headers={"content-type": "application/yaml"})
        self.requests.append(request)
        pet_id = request.url.raw_path.decode().removeprefix("/v2/pet/")
        if request.url.path.startswith("/v2/pet/find"):
            return httpx.Response(200, json=[PET])
        if request.method == "GET" and pet_id.isdigit() and pet_id != "404":
            return httpx.Response(200, json={**PET, "id": int(pet_id)})
        if request.method == "GET" and request.url.path.startswith("/v2/"):
            return httpx.Response(404, json={"message": "Pet not found"})
        return httpx.Response(200, json={"ok": True})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.fixture
async def api() -> AsyncIterator[tuple[Api, EffectContext]]:
    handler = Api()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        EffectContext(client) as ctx,
    ):
        yield handler, ctx


async def call(ctx: EffectContext, operation: str, document: Any = SWAGGER_URI, **args: Any) -> Any:
    ref = document if isinstance(document, dict) else {"uri": document}
    args = {"document": ref, "operationId": operation, "parameters": {}, **args}
    return await perform(Perform(effect_id="e", kind="openapi", args=args), ctx)


async def failure(ctx: EffectContext, operation: str, document: str = SWAGGER_URI, **args: Any) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await call(ctx, operation, document, **args)
    return caught.value.problem


# --- Swagger 2.0 ------------------------------------------------------------------------


async def test_find_pets_by_status_builds_the_url_from_host_base_path_and_https(
    api: tuple[Api, EffectContext],
) -> None:
    server, ctx = api
    result = await call(ctx, "findPetsByStatus", parameters={"status": "available"})
    assert result == [PET]
    assert str(server.last.url) == "https://petstore.swagger.io/v2/pet/findByStatus?status=available"
    assert server.last.headers["accept"] == "application/json"


async def test_multi_collection_format_repeats_the_key(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    await call(ctx, "findPetsByStatus", parameters={"status": ["available", "sold"]})
    assert server.last.url.params.get_list("status") == ["available", "sold"]


async def test_csv_is_the_default_collection_format(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    await call(ctx, "findPetsByTags", parameters={"tags": ["a", "b c"]})
    assert server.last.url.params.get_list("tags") == ["a,b c"]
    assert server.last.headers["accept"] == "application/xml"  # the document's produces


async def test_get_pet_by_id_substitutes_the_path_and_gives_a_response_object(
    api: tuple[Api, EffectContext],
) -> None:
    _, ctx = api
    result = await call(ctx, "getPetById", parameters={"petId": 1, "api_key": "k"}, output="response")
    assert result["statusCode"] == 200
    assert result["content"] == PET
    assert result["request"]["method"] == "GET"
    assert result["request"]["uri"] == "https://petstore.swagger.io/v2/pet/1"
    assert result["request"]["headers"]["api_key"] == "k"
    assert {"request", "statusCode", "headers", "content"} <= result.keys()


async def test_path_values_are_percent_encoded(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    error = await failure(ctx, "getPetById", parameters={"petId": "a/b c"})
    assert error["status"] == 404  # the mock knows numeric ids only
    assert server.last.url.raw_path == b"/v2/pet/a%2Fb%20c"


async def test_operation_errors_are_those_of_http_calls(api: tuple[Api, EffectContext]) -> None:
    _, ctx = api
    error = await failure(ctx, "getPetById", parameters={"petId": 404})
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert (error["status"], error["title"]) == (404, "Not Found")


async def test_swagger_body_parameter_by_name_or_from_the_remaining_parameters(
    api: tuple[Api, EffectContext],
) -> None:
    server, ctx = api
    await call(ctx, "addPet", parameters={"body": PET})
    assert server.last.method == "POST"
    assert server.last.headers["content-type"] == "application/json"
    assert json.loads(server.last.content) == PET
    await call(ctx, "addPet", parameters={"name": "rex", "status": "sold"})
    assert json.loads(server.last.content) == {"name": "rex", "status": "sold"}


async def test_swagger_form_data_is_form_encoded(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    await call(ctx, "updatePetWithForm", parameters={"petId": 3, "name": "rex", "status": "sold"})
    assert server.last.url.path == "/v2/pet/3"
    assert server.last.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(server.last.content.decode()) == {"name": ["rex"], "status": ["sold"]}


async def test_the_document_is_fetched_once(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    await call(ctx, "findPetsByStatus", parameters={"status": "available"})
    await call(ctx, "getPetById", parameters={"petId": 2})
    assert server.document_fetches == 1
    assert SWAGGER_URI in ctx.documents


async def test_documents_expire_from_the_cache() -> None:
    now = [0.0]
    handler = Api()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        ctx = EffectContext(client, document_ttl=600, clock=lambda: now[0])
        await call(ctx, "getPetById", parameters={"petId": 1})
        now[0] = 601
        await call(ctx, "getPetById", parameters={"petId": 1})
    assert handler.document_fetches == 2


async def test_unknown_operation_is_a_configuration_error(api: tuple[Api, EffectContext]) -> None:
    _, ctx = api
    error = await failure(ctx, "deleteEverything")
    assert error["type"] == ERROR_TYPE_PREFIX + "configuration"
    assert error["status"] == 400
    assert "deleteEverything" in error["detail"]


@pytest.mark.parametrize(
    ("operation", "parameters", "named"),
    [("getPetById", {}, "petId"), ("findPetsByStatus", {"status": None}, "status"), ("addPet", {}, "body")],
)
async def test_missing_required_parameters_are_validation_errors(
    api: tuple[Api, EffectContext], operation: str, parameters: dict[str, Any], named: str
) -> None:
    server, ctx = api
    error = await failure(ctx, operation, parameters=parameters)
    assert error["type"] == ERROR_TYPE_PREFIX + "validation"
    assert error["status"] == 400
    assert repr(named) in error["detail"]
    assert server.requests == []  # nothing was sent


async def test_document_fetch_failure_is_a_communication_error(api: tuple[Api, EffectContext]) -> None:
    _, ctx = api
    error = await failure(ctx, "getPetById", document="https://petstore.swagger.io/v2/pet/404")
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"
    assert error["status"] == 404


async def test_a_document_that_is_not_openapi_is_a_configuration_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>: [")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        error = await failure(EffectContext(client), "x", document="https://docs.test/index.html")
    assert error["type"] == ERROR_TYPE_PREFIX + "configuration"


async def test_authentication_applies_to_the_document_and_to_the_operation(
    api: tuple[Api, EffectContext],
) -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        if request.url.path.endswith(".json"):
            return httpx.Response(200, json=SWAGGER)
        return httpx.Response(200, json=PET)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await call(
            EffectContext(client),
            "getPetById",
            document={"uri": SWAGGER_URI, "authentication": {"bearer": {"token": "doc"}}},
            parameters={"petId": 1},
            authentication={"bearer": {"token": "op"}},
        )
    assert seen == [("/v2/swagger.json", "Bearer doc"), ("/v2/pet/1", "Bearer op")]


async def test_a_document_fetched_with_credentials_is_not_served_to_calls_without() -> None:
    fetched_with: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".json"):
            fetched_with.append(request.headers.get("authorization"))
            return httpx.Response(200, json=SWAGGER)
        return httpx.Response(200, json=PET)

    private = {"uri": SWAGGER_URI, "authentication": {"bearer": {"token": "tenant-a"}}}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        ctx = EffectContext(client)
        for document in (private, private, SWAGGER_URI):
            await call(ctx, "getPetById", document=document, parameters={"petId": 1})
    assert fetched_with == ["Bearer tenant-a", None]


def test_swagger_without_host_or_schemes_uses_the_document_uri() -> None:
    document = {**SWAGGER, "schemes": None, "host": None}
    operation = find_operation(document, "getPetById", "http://localhost:8080/v2/swagger.json")
    assert operation.base_url == "http://localhost:8080/v2"
    assert operation.method == "get"


# --- OpenAPI 3 --------------------------------------------------------------------------


async def test_openapi3_server_variables_relative_url_headers_cookies_and_body(
    api: tuple[Api, EffectContext],
) -> None:
    server, ctx = api
    order = {"sku": "A-1", "quantity": 2}
    parameters = {"X-Tenant": "acme", "dryRun": True, "session": "s1", **order}
    await call(ctx, "createOrder", OPENAPI_URI, parameters=parameters)
    request = server.last
    assert str(request.url) == "https://docs.test/api/v3/orders?dryRun=true"
    assert request.headers["x-tenant"] == "acme"
    assert request.headers["cookie"] == "session=s1"
    assert request.headers["accept"] == "application/json"  # produces application/hal+json
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == order


async def test_openapi3_body_named_body_wins_over_the_remaining_parameters(
    api: tuple[Api, EffectContext],
) -> None:
    server, ctx = api
    await call(ctx, "createOrder", OPENAPI_URI, parameters={"X-Tenant": "acme", "body": [1, 2]})
    assert json.loads(server.last.content) == [1, 2]


async def test_openapi3_missing_required_header_and_body(api: tuple[Api, EffectContext]) -> None:
    _, ctx = api
    error = await failure(ctx, "createOrder", OPENAPI_URI, parameters={"sku": "x"})
    assert "'X-Tenant'" in error["detail"]
    error = await failure(ctx, "createOrder", OPENAPI_URI, parameters={"X-Tenant": "acme"})
    assert error["type"] == ERROR_TYPE_PREFIX + "validation"
    assert "request body" in error["detail"]


async def test_openapi3_query_styles_and_operation_servers(api: tuple[Api, EffectContext]) -> None:
    server, ctx = api
    parameters = {"id": "o/1", "sku": ["a", "b"], "size": ["S", "M"], "filter": {"color": "red"}}
    await call(ctx, "listItems", OPENAPI_URI, parameters=parameters)
    url = server.last.url
    assert (url.host, url.raw_path.split(b"?")[0]) == ("items.test", b"/v1/orders/o%2F1/items")
    assert url.params.multi_items() == [("sku", "a"), ("sku", "b"), ("size", "S,M"), ("filter[color]", "red")]
    assert server.last.headers["accept"] == "text/csv"
    assert server.last.content == b""  # no request body declared, none sent
