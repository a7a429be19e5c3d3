"""``raise``: fault the task with an inline or referenced error (fields may be expressions)."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import WorkflowError
from flunq.interpreter.machine import Fault, Machine, Result
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf


class RaiseHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        definition = mc.defn.error(item.task.raise_.error)
        fields = {
            k: v
            for k, v in (
                ("type", definition.type),
                ("status", definition.status),
                ("title", definition.title),
                ("detail", definition.detail),
                ("instance", definition.instance),
            )
            if v is not None
        }
        error = mc.value(fields, frame.input, frame, vars)
        if not isinstance(error.get("type"), str) or not isinstance(error.get("status"), int):
            raise WorkflowError.of(
                "validation", detail=f"a raised error needs a string type and an integer status, got {error!r}"
            )
        error.setdefault("instance", item.ref)
        return Fault(error)
