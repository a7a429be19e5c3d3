"""``for``: run the subtasks once per item of a collection.

Iteration *n* receives the output of iteration *n-1* (the first, the task's input) and the
task's output is the last iteration's. ``while`` is checked before each iteration, with the
item and index variables bound. Keeps the collection in ``frame.items`` and the index of
the next iteration in ``frame.pos``.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import WorkflowError
from flunq.interpreter.machine import Machine, Ok, Result, truthy
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf


def type_name(value: Any) -> str:
    return {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


class ForHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        collection = mc.field(item.task.for_.in_, frame.input, frame, vars)
        if not isinstance(collection, list):
            raise WorkflowError.of(
                "expression",
                detail=f"for.in '{item.task.for_.in_}' must evaluate to an array, got {type_name(collection)}",
            )
        frame.items = collection
        frame.pos = 0
        return self._loop(mc, frame, item, vars, frame.input)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        if not isinstance(result, Ok):
            return result
        if result.exited:
            return Ok(result.output)
        return self._loop(mc, frame, item, vars, result.output)

    def _loop(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], data: Any) -> Result | None:
        task = item.task
        items = frame.items or []
        list_ref = item.ref + "/do"
        empty = not mc.defn.lists[list_ref]
        while frame.pos < len(items):
            index = frame.pos
            scoped = {**vars, task.for_.each: items[index], task.for_.at: index}
            if task.while_ is not None and not truthy(mc.field(task.while_, data, frame, scoped)):
                break
            frame.pos = index + 1
            if empty:
                continue
            lst = ListFrame(id=f"{frame.id}/do[{index}]", list_ref=list_ref, data=data, vars=scoped)
            outcome = mc.start_child(frame, lst)
            if outcome is None:
                return None
            if not isinstance(outcome, Ok):
                return outcome
            data = outcome.output
            if outcome.exited:
                break
        return Ok(data)
