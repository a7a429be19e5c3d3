"""``switch``: the first case whose ``when`` holds gives the flow directive.

The default case (no ``when``) is used only when no other case matches, wherever it is
written; with no match at all the task's own ``then`` applies. The output is the input.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.interpreter.machine import Machine, Ok, Result, truthy
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf


class SwitchHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        default: m.SwitchCase | None = None
        for case in item.task.switch:
            for body in case.values():
                if body.when is None:
                    default = default or body
                elif truthy(mc.field(body.when, frame.input, frame, vars)):
                    return Ok(frame.input, then=body.then)
        if default is not None:
            return Ok(frame.input, then=default.then)
        return Ok(frame.input)
