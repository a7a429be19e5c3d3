"""The ``call: openapi`` effect: find an operation in an OpenAPI document and call it.

Arguments (evaluated by the interpreter)::

    {"document": {"uri": "...", "authentication": {...}}, "operationId": "getPetById",
     "parameters": {"petId": 1}, "output": "content", "redirect": false,
     "authentication": {...}}

The document is fetched with ``document.authentication`` (following redirects), parsed
as JSON or YAML and cached in ``ctx.documents`` by URI (and by the credentials' fingerprint
when it needed some, so that a call without them cannot read it from the cache). Only
``http``/``https`` documents are fetched: ``file://`` would expose the executor's files.
Swagger 2.0 and OpenAPI 3.x are supported:

- base URL: Swagger 2.0 ``<scheme>://<host><basePath>`` where the scheme is ``https`` when
  listed in ``schemes`` (else the first one, else the document's scheme) and ``host``
  defaults to the document URI's host; OpenAPI 3 takes the first server of the operation,
  its path item or the document (default ``/``), fills its variables with their defaults
  and resolves a relative URL against the document URI;
- parameters are the path item's and the operation's (the operation's win), ``$ref``
  pointers inside the document are followed (external references are refused);
- each parameter takes the value of the same name in ``parameters``: ``path`` values are
  substituted percent-encoded, ``query`` arrays repeat the key for Swagger
  ``collectionFormat: multi`` and OpenAPI ``explode: true`` (the default of ``form``) and
  are otherwise joined with ``,`` (``ssv``/``spaceDelimited`` with a space, ``tsv`` with a
  tab, ``pipes``/``pipeDelimited`` with ``|``); objects follow ``deepObject``/``form``;
  ``header`` and ``cookie`` values are sent as such; Swagger ``formData`` parameters are
  form-encoded;
- the request body (Swagger ``in: body`` parameter, OpenAPI ``requestBody``) is the
  parameter named like the body (the Swagger parameter's name; for OpenAPI
  ``x-codegen-request-body-name``, ``x-body-name`` or ``body``) when given; otherwise the
  parameters that match no declared parameter, as one object, when there are any. It is
  sent as JSON when the operation accepts JSON (or anything), else form-encoded when it
  accepts ``application/x-www-form-urlencoded`` (or ``multipart/form-data``, which is
  sent form-encoded too), else as its first media type. When the operation takes no
  body, given parameters that match nothing are ignored;
- ``Accept: application/json`` is sent when the operation produces JSON (Swagger
  ``produces``, OpenAPI success/default response content), else its media types.

Then the call is performed exactly as ``call: http`` (same outputs, same errors).

Errors: document fetch failure → ``communication`` (the real HTTP status when there is
one); a body that is not an OpenAPI/Swagger document, an unknown ``operationId`` or a bad
``$ref`` → ``configuration`` (400); a missing required parameter (every path parameter is
required) or request body → ``validation`` (400), naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from ruamel.yaml import YAML, YAMLError

from flunq.effects.auth import fingerprint
from flunq.effects.context import EffectContext
from flunq.effects.http import OUTPUTS, HttpRequest, exchange, send
from flunq.errors import WorkflowError, problem
from flunq.interpreter.uritemplate import render_scalar

__all__ = ["Operation", "build_request", "call_openapi", "find_operation", "load_document", "parse_document"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOCUMENT_ACCEPT = "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.8"
FORM = "application/x-www-form-urlencoded"
_DELIMITERS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|", "spaceDelimited": " ", "pipeDelimited": "|"}
_PATH_VARIABLE = re.compile(r"\{([^{}]+)\}")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a document, with everything needed to call it."""

    operation_id: str
    method: str
    path: str
    base_url: str
    parameters: tuple[Mapping[str, Any], ...]
    body: Mapping[str, Any] | None  # {"name", "required", "media"} when it takes a body
    accept: str | None


async def call_openapi(args: dict[str, Any], ctx: EffectContext) -> Any:
    """The ``openapi`` effect handler: fetch the document, build the request, send it."""
    uri, document_auth = _document_ref(args.get("document"))
    operation_id = args.get("operationId")
    if not isinstance(operation_id, str) or not operation_id:
        raise _config_error("Invalid Call", "call: openapi needs an 'operationId' string")
    output = args.get("output") or "content"
    if output not in OUTPUTS:
        raise _config_error("Invalid Call", f"unknown output {output!r}: use {', '.join(OUTPUTS)}")
    parameters = args.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise _config_error("Invalid Call", "call: openapi 'parameters' must be an object")
    document = await load_document(uri, document_auth, ctx)
    operation = find_operation(document, operation_id, uri)
    auth = args.get("authentication")
    request = build_request(
        operation,
        parameters,
        output=output,
        redirect=bool(args.get("redirect", False)),
        authentication=auth if isinstance(auth, Mapping) else None,
    )
    return await send(request, ctx)


async def load_document(
    uri: str, authentication: Mapping[str, Any] | None, ctx: EffectContext
) -> dict[str, Any]:
    """The parsed document at ``uri``, from ``ctx.documents`` or fetched (then cached).

    A document fetched with credentials is cached under its URI *and* their fingerprint:
    a call without them must not read it from the cache.
    """

    async def load() -> tuple[dict[str, Any], float | None]:
        request = HttpRequest(
            "GET", uri, headers={"Accept": DOCUMENT_ACCEPT}, redirect=True, authentication=authentication
        )
        response = await exchange(request, ctx)
        return parse_document(response.body, uri), None

    key = (uri, fingerprint(authentication)) if authentication else uri
    document: dict[str, Any] = await ctx.documents.get_or_load(key, load)
    return document


def parse_document(body: bytes, uri: str) -> dict[str, Any]:
    """Parse a JSON or YAML OpenAPI/Swagger document; anything else is a configuration error."""
    try:
        document = json.loads(body)
    except ValueError:
        try:
            document = YAML(typ="safe", pure=True).load(body)
        except YAMLError as exc:
            raise _config_error("Invalid Document", f"{uri} is neither JSON nor YAML: {exc}") from None
    if not isinstance(document, dict) or not ("swagger" in document or "openapi" in document):
        raise _config_error("Invalid Document", f"{uri} is not an OpenAPI or Swagger document")
    if not isinstance(document.get("paths") or {}, dict):
        raise _config_error("Invalid Document", f"{uri}: 'paths' must be an object")
    return document


def find_operation(document: Mapping[str, Any], operation_id: str, uri: str) -> Operation:
    """The operation ``operation_id`` of ``document`` (fetched from ``uri``)."""
    spec = _Spec(document, uri)
    for path, raw_item in (document.get("paths") or {}).items():
        item = spec.resolve(raw_item)
        if not isinstance(item, Mapping):
            continue
        for method in METHODS:
            op = spec.resolve(item.get(method))
            if isinstance(op, Mapping) and op.get("operationId") == operation_id:
                return spec.operation(operation_id, method, str(path), item, op)
    raise _config_error("Unknown Operation", f"no operation {operation_id!r} in {uri}")


def build_request(
    operation: Operation,
    parameters: Mapping[str, Any],
    *,
    output: str = "content",
    redirect: bool = False,
    authentication: Mapping[str, Any] | None = None,
) -> HttpRequest:
    """The HTTP request calling ``operation`` with ``parameters`` (see the module doc)."""
    given = {k: v for k, v in parameters.items() if v is not None}
    path_values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    form: list[tuple[str, str]] = []
    for param in operation.parameters:
        name, where = str(param["name"]), param.get("in")
        value = given.get(name, _MISSING)
        if value is _MISSING:
            if param.get("required") or where == "path":
                raise _missing(operation, f"parameter {name!r} (in {where})")
            continue
        if where == "path":
            path_values[name] = _path_text(param, value)
        elif where == "query":
            query += _query_pairs(param, value)
        elif where == "header":
            headers[name] = _joined(param, value)
        elif where == "cookie":
            cookies.append(f"{name}={_joined(param, value)}")
        elif where == "formData":
            form += _query_pairs(param, value)
    if operation.accept:
        headers["Accept"] = operation.accept
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    body = _body(operation, given, headers, form)
    return HttpRequest(
        method=operation.method.upper(),
        uri=operation.base_url + _fill_path(operation, path_values, given),
        headers=headers,
        query=query,
        body=body,
        output=output,
        redirect=redirect,
        authentication=authentication,
    )


class _Spec:
    """Reads one document: ``$ref`` resolution and the Swagger/OpenAPI differences."""

    def __init__(self, document: Mapping[str, Any], uri: str) -> None:
        self.doc = document
        self.uri = uri
        self.swagger = "swagger" in document

    def resolve(self, node: Any) -> Any:
        for _ in range(32):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            node = self._pointer(node["$ref"])
        raise _config_error("Invalid Document", f"{self.uri}: $ref chain too long (a cycle?)")

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise _config_error("Invalid Document", f"{self.uri}: external $ref {ref!r} is not supported")
        node: Any = self.doc
        for token in filter(None, ref[1:].split("/")):
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            elif isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                raise _config_error("Invalid Document", f"{self.uri}: $ref {ref!r} points nowhere")
        return node

    def operation(
        self, operation_id: str, method: str, path: str, item: Mapping[str, Any], op: Mapping[str, Any]
    ) -> Operation:
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
            param = self.resolve(raw)
            if isinstance(param, Mapping) and "name" in param:
                merged[(str(param["name"]), str(param.get("in")))] = param
        params = tuple(p for p in merged.values() if p.get("in") != "body")
        return Operation(
            operation_id=operation_id,
            method=method,
            path=path,
            base_url=self._base_url(item, op).rstrip("/"),
            parameters=params,
            body=self._body(op, merged.values()),
            accept=self._accept(op),
        )

    def _base_url(self, item: Mapping[str, Any], op: Mapping[str, Any]) -> str:
        if self.swagger:
            where = urlsplit(self.uri)
            schemes = self.doc.get("schemes") or [where.scheme or "https"]
            scheme = "https" if "https" in schemes else str(schemes[0])
            host = self.doc.get("host") or where.netloc
            if not host:
                raise _config_error("Invalid Document", f"{self.uri}: no host to call")
            return f"{scheme}://{host}{self.doc.get('basePath') or ''}"
        servers = op.get("servers") or item.get("servers") or self.doc.get("servers") or [{"url": "/"}]
        server = servers[0] if isinstance(servers[0], Mapping) else {}
        url = str(server.get("url") or "/")
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        return urljoin(self.uri, url)

    def _body(self, op: Mapping[str, Any], params: Any) -> Mapping[str, Any] | None:
        if self.swagger:
            consumes = op.get("consumes") or self.doc.get("consumes") or []
            for param in params:
                if param.get("in") == "body":
                    media = _pick_media(consumes)
                    return {"name": str(param["name"]), "required": bool(param.get("required")), "media": media}
                if param.get("in") == "formData":
                    return {"name": None, "required": False, "media": FORM}
            return None
        body = self.resolve(op.get("requestBody"))
        if not isinstance(body, Mapping):
            return None
        name = op.get("x-codegen-request-body-name") or body.get("x-body-name") or "body"
        media = _pick_media(list(body.get("content") or {}))
        return {"name": str(name), "required": bool(body.get("required")), "media": media}

    def _accept(self, op: Mapping[str, Any]) -> str | None:
        if self.swagger:
            produced = list(op.get("produces") or self.doc.get("produces") or [])
        else:
            produced = []
            for status, raw in (op.get("responses") or {}).items():
                response = self.resolve(raw)
                if (str(status).startswith("2") or status == "default") and isinstance(response, Mapping):
                    produced += [m for m in response.get("content") or {} if m not in produced]
        if any(_is_json(m) for m in produced):
            return "application/json"
        return ", ".join(map(str, produced)) or None


def _document_ref(document: Any) -> tuple[str, Mapping[str, Any] | None]:
    if isinstance(document, str):
        return document, None
    if isinstance(document, Mapping):
        uri, auth = document.get("uri"), document.get("authentication")
        if isinstance(uri, str) and uri:
            return uri, auth if isinstance(auth, Mapping) else None
    raise _config_error("Invalid Call", "call: openapi needs 'document' with a 'uri'")


def _pick_media(media_types: list[str]) -> str:
    """The media type to send a body as: JSON when accepted, else form, else the first."""
    for media in media_types:
        if _is_json(media) or media in ("*/*", "application/*"):
            return "application/json" if "*" in media else media
    if FORM in media_types or "multipart/form-data" in media_types:
        return FORM  # multipart is not supported: a form is the closest we send
    return media_types[0] if media_types else "application/json"


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base.endswith("/json") or base.endswith("+json")


def _body(
    operation: Operation, given: Mapping[str, Any], headers: dict[str, str], form: list[tuple[str, str]]
) -> Any:
    spec = operation.body
    if spec is None:
        return None
    headers["Content-Type"] = spec["media"]
    if spec["name"] is None:  # Swagger formData
        return dict(_grouped(form)) if form else None
    declared = {str(p["name"]) for p in operation.parameters}
    rest = {k: v for k, v in given.items() if k not in declared}
    value = rest.get(spec["name"], rest or _MISSING)
    if value is _MISSING:
        if spec["required"]:
            raise _missing(operation, f"request body {spec['name']!r}")
        del headers["Content-Type"]
        return None
    if isinstance(value, str) and _is_json(spec["media"]):
        return json.dumps(value)  # a JSON string, not raw text
    return value


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out


def _fill_path(operation: Operation, values: Mapping[str, str], given: Mapping[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        if name in given:  # a path variable the document forgot to declare
            return quote(_text(given[name]), safe="")
        raise _missing(operation, f"parameter {name!r} (in path)")

    return _PATH_VARIABLE.sub(substitute, operation.path)


def _explode(param: Mapping[str, Any]) -> bool:
    if "collectionFormat" in param:
        return param["collectionFormat"] == "multi"
    if "explode" in param:
        return bool(param["explode"])
    if "in" in param and "type" in param:  # Swagger 2.0 parameter: csv unless multi
        return False
    return param.get("style", "form") == "form"


def _delimiter(param: Mapping[str, Any]) -> str:
    return _DELIMITERS.get(param.get("collectionFormat") or param.get("style") or "csv", ",")


def _query_pairs(param: Mapping[str, Any], value: Any) -> list[tuple[str, str]]:
    name = str(param["name"])
    if isinstance(value, list):
        if _explode(param):
            return [(name, _text(v)) for v in value]
        return [(name, _delimiter(param).join(_text(v) for v in value))]
    if isinstance(value, Mapping):
        if param.get("style") == "deepObject":
            return [(f"{name}[{k}]", _text(v)) for k, v in value.items()]
        if _explode(param):
            return [(str(k), _text(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_text(v)}" for k, v in value.items()))]
    return [(name, _text(value))]


def _joined(param: Mapping[str, Any], value: Any) -> str:
    """Simple style: arrays comma-joined, objects ``k,v`` (``k=v`` when exploded)."""
    if isinstance(value, list):
        return _delimiter(param).join(_text(v) for v in value)
    if isinstance(value, Mapping):
        sep = "=" if param.get("explode") else ","
        return ",".join(f"{k}{sep}{_text(v)}" for k, v in value.items())
    return _text(value)


def _path_text(param: Mapping[str, Any], value: Any) -> str:
    """Simple style, each part percent-encoded but the delimiters kept."""
    if isinstance(value, list):
        return _delimiter(param).join(quote(_text(v), safe="") for v in value)
    if isinstance(value, Mapping):
        sep = "=" if param.get("explode") else ","
        return ",".join(f"{quote(str(k), safe='')}{sep}{quote(_text(v), safe='')}" for k, v in value.items())
    return quote(_text(value), safe="")


def _text(value: Any) -> str:
    try:
        return render_scalar(value)
    except TypeError:  # a nested structure: its JSON text is the least surprising form
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _missing(operation: Operation, what: str) -> WorkflowError:
    return WorkflowError(
        problem(
            "validation",
            title="Missing Parameter",
            detail=f"operation {operation.operation_id!r} needs {what}",
            status=400,
        )
    )


def _config_error(title: str, detail: str) -> WorkflowError:
    return WorkflowError(problem("configuration", title=title, detail=detail))
