"""``set``: the task's output is the evaluated ``set`` value (it replaces the data)."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.interpreter.machine import Machine, Ok, Result
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf


class SetHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        return Ok(mc.value(item.task.set, frame.input, frame, vars))
