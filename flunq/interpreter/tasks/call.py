"""``call``: HTTP, OpenAPI, gRPC, AsyncAPI, A2A, MCP and workflow functions.

Arguments are evaluated here and leave as a ``Perform`` command; the executor answers with
the raw output or an error. ``call: <name>`` runs the task of ``use.functions.<name>`` with
the evaluated ``with`` as its input. Functions from catalogs (``name:version@catalog``) or
URIs are not supported yet and fault with a configuration error saying so.
"""

from __future__ import annotations

from typing import Any

import msgspec

from flunq.dsl import model as m
from flunq.errors import WorkflowError
from flunq.interpreter.machine import Machine, Ok, Result
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf
from flunq.interpreter.tasks.endpoint import resolve_authentication, resolve_endpoint


def _map(mc: Machine, value: dict[str, str] | str | None, frame: TaskFrame, vars: dict[str, Any], what: str) -> dict[str, str] | None:
    if value is None:
        return None
    result = mc.value(value, frame.input, frame, vars)
    if not isinstance(result, dict):
        raise WorkflowError.of("expression", detail=f"{what} must evaluate to an object, got {result!r}")
    return {str(k): v if isinstance(v, str) else msgspec.json.encode(v).decode() for k, v in result.items()}


class HttpHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        w: m.HttpArguments = item.task.with_
        uri, auth = resolve_endpoint(mc, w.endpoint, frame, vars)
        args: dict[str, Any] = {"method": w.method, "uri": uri, "output": w.output, "redirect": w.redirect}
        headers = _map(mc, w.headers, frame, vars, "headers")
        query = _map(mc, w.query, frame, vars, "query")
        if headers:
            args["headers"] = headers
        if query:
            args["query"] = query
        if w.body is not None:
            args["body"] = mc.value(w.body, frame.input, frame, vars)
        if auth is not None:
            args["authentication"] = auth
        mc.perform(frame, "http", args)
        return None


class OpenApiHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        w: m.OpenApiArguments = item.task.with_
        uri, doc_auth = resolve_endpoint(mc, w.document.endpoint, frame, vars)
        document: dict[str, Any] = {"uri": uri}
        if doc_auth is not None:
            document["authentication"] = doc_auth
        args: dict[str, Any] = {
            "document": document,
            "operationId": w.operation_id,
            "parameters": mc.value(w.parameters or {}, frame.input, frame, vars),
            "output": w.output,
            "redirect": w.redirect,
        }
        if w.authentication is not None:
            args["authentication"] = resolve_authentication(mc, w.authentication, frame, vars)
        mc.perform(frame, "openapi", args)
        return None


class GenericCallHandler(Leaf):
    """gRPC, AsyncAPI, A2A, MCP: the evaluated ``with`` goes to the executor as is."""

    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        task = item.task
        raw_with = item.raw.get("with") or {}
        mc.perform(frame, task.call, mc.value(raw_with, frame.input, frame, vars))
        return None


class FunctionHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        task: m.CallFunction = item.task
        name = task.call
        if name not in mc.defn.functions:
            raise WorkflowError.of(
                "configuration",
                detail=f"function '{name}' is not in use.functions; catalog and URI functions are not supported yet",
            )
        data = mc.value(task.with_, frame.input, frame, vars) if task.with_ is not None else frame.input
        lst = ListFrame(id=frame.id + "/call", list_ref=mc.defn.function_list(name), only=True, data=data)
        outcome = mc.start_child(frame, lst)
        return None if outcome is None else self.child(mc, frame, item, vars, lst, outcome)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        return Ok(result.output) if isinstance(result, Ok) else result
