"""``fork``: run the branches concurrently.

Without ``compete`` the output is the list of branch outputs in declaration order and the
first branch fault faults the task (the others are cancelled). With ``compete`` the first
branch to finish wins and the others are cancelled; the task faults only if every branch
faulted. Keeps branch outputs in ``frame.acc``, branches still running in
``frame.extra["left"]`` and the first branch error in ``frame.error``.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.interpreter.machine import End, Fault, Machine, Ok, Result
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf


class ForkHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        count = len(item.task.fork.branches)
        if count == 0:
            return Ok([])
        frame.acc = [None] * count
        frame.extra = {"left": count}
        list_ref = item.ref + "/fork/branches"
        for index in range(count):
            lst = ListFrame(
                id=f"{frame.id}/fork/branches", list_ref=list_ref, index=index, only=True,
                data=frame.input, vars=vars,
            )
            outcome = mc.start_child(frame, lst)
            if outcome is not None:
                result = self.child(mc, frame, item, vars, lst, outcome)
                if result is not None:
                    return result
        return None

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        frame.extra = {"left": frame.extra["left"] - 1}
        compete = item.task.fork.compete
        if isinstance(result, End) or (isinstance(result, Ok) and compete):
            return self._stop(mc, frame, Ok(result.output) if isinstance(result, Ok) else result)
        if isinstance(result, Fault):
            if not compete:
                return self._stop(mc, frame, result)
            frame.error = frame.error or result.error
        else:
            assert frame.acc is not None
            frame.acc[lst.index] = result.output
        if frame.extra["left"] > 0 or frame.lists:
            return None
        if compete:
            return Fault(frame.error or {})
        return Ok(frame.acc)

    def _stop(self, mc: Machine, frame: TaskFrame, result: Result) -> Result:
        """Cancel the branches still running; branches not started yet never start."""
        mc.abandon_children(frame)
        frame.extra = {"left": 0}
        return result
