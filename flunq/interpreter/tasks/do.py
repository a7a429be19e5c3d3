"""``do``: run the subtasks in order; the output is the last one's."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.interpreter.machine import Machine, Ok, Result
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf


class DoHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        if not item.task.do:
            return Ok(frame.input)
        lst = ListFrame(id=frame.id + "/do", list_ref=item.ref + "/do", data=frame.input, vars=vars)
        outcome = mc.start_child(frame, lst)
        return None if outcome is None else self.child(mc, frame, item, vars, lst, outcome)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        # 'exit' inside ends this list and so completes the do task normally.
        return Ok(result.output) if isinstance(result, Ok) else result
