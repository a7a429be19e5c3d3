"""``wait``: sleep on a timer; the output is the input."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.interpreter.machine import Machine, Ok, Result
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf


class WaitHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        seconds = mc.duration(item.task.wait, frame.input, frame, vars)
        mc.start_timer(frame.id, seconds)
        frame.effect = frame.id
        return None

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None:
        return Ok(frame.input)
