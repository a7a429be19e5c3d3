"""Loopback stand-ins for the two hosts the conformance scenarios call.

Plugged into the engine by giving its HTTP client an ``httpx.MockTransport``: the engine
itself knows nothing of these hosts.
"""

from __future__ import annotations

import base64
import json

import httpx

PETS = {
    1: {"id": 1, "category": {"id": 0, "name": "dogs"}, "name": "doggie", "photoUrls": ["string"],
        "tags": [{"id": 0, "name": "string"}], "status": "available"},
    2: {"id": 2, "category": {"id": 0, "name": "cats"}, "name": "kitty", "photoUrls": [],
        "tags": [], "status": "available"},
    3: {"id": 3, "category": {"id": 0, "name": "fish"}, "name": "nemo", "photoUrls": [],
        "tags": [], "status": "sold"},
}

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Petstore stand-in", "version": "1.0.0"},
    "host": "petstore.swagger.io",
    "basePath": "/v2",
    "schemes": ["https", "http"],
    "paths": {
        "/pet/findByStatus": {
            "get": {
                "operationId": "findPetsByStatus",
                "produces": ["application/json"],
                "parameters": [
                    {"name": "status", "in": "query", "required": True, "type": "array",
                     "items": {"type": "string"}, "collectionFormat": "multi"}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/pet/{petId}": {
            "get": {
                "operationId": "getPetById",
                "produces": ["application/json"],
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "type": "integer", "format": "int64"}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}

BASIC_USER, BASIC_PASSWORD = "serverless-workflow", "conformance-test"


def _json(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def _petstore(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v2/swagger.json":
        return _json(200, SWAGGER)
    if path == "/v2/pet/findByStatus":
        wanted = request.url.params.get_list("status")
        return _json(200, [p for p in PETS.values() if p["status"] in wanted])
    if path.startswith("/v2/pet/"):
        tail = path.removeprefix("/v2/pet/")
        if tail.isdigit() and int(tail) in PETS:
            return _json(200, PETS[int(tail)])
    return _json(404, {"code": 1, "type": "error", "message": "Pet not found"})


def _httpbin(request: httpx.Request) -> httpx.Response:
    parts = request.url.path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "basic-auth":
        expected = base64.b64encode(f"{parts[1]}:{parts[2]}".encode()).decode()
        if request.headers.get("authorization") == f"Basic {expected}":
            return _json(200, {"authenticated": True, "user": parts[1]})
        return httpx.Response(401, headers={"www-authenticate": 'Basic realm="Fake Realm"'})
    return httpx.Response(404)


def handler(request: httpx.Request) -> httpx.Response:
    host = request.url.host
    if host == "petstore.swagger.io":
        return _petstore(request)
    if host == "httpbin.org":
        return _httpbin(request)
    raise httpx.ConnectError(f"no route to {host} in the conformance stand-ins", request=request)


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(handler)
