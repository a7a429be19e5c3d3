"""``use.extensions``: task lists run before and after the tasks they extend.

An extension applies to a task when ``extend`` names its kind (``composite`` = ``do`` and
``fork``; ``all`` = every task) and its ``when`` holds. ``when`` sees ``.`` = the task's raw
input and ``$task`` = the task as written merged with the task descriptor (examples write
both ``$task.with.endpoint`` and ``$task.reference``); a ``when`` that cannot be evaluated
does not apply. Tasks inside extension lists are never extended.

The extended task runs inside a wrapper frame that keeps no data flow of its own:
``before`` lists (in declaration order) get the task's raw input; a before list that ends
with ``then: exit`` replaces the task (its output becomes the task's output: the mocking
pattern); otherwise the task runs as written, with its raw input; then ``after`` lists run
with the task's output, for their effects: the task's output stays what the task gave.

Keeps ``frame.extra["ext"] = {"todo": [extension indexes], "phase": "before" | "task" |
"after", "i": position in todo, "output": the task's output}``.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import ExpressionError, WorkflowError
from flunq.interpreter.machine import Machine, Ok, Result, truthy
from flunq.interpreter.scope import datetime_descriptor
from flunq.interpreter.state import ListFrame, TaskFrame

#: Marks a task list whose task already went through its extensions.
UNEXTENDED = "\x00unextended"

_KIND: dict[type, str] = {
    m.DoTask: "composite", m.ForkTask: "composite", m.EmitTask: "emit", m.ForTask: "for",
    m.ListenTask: "listen", m.RaiseTask: "raise", m.RunTask: "run", m.SetTask: "set",
    m.SwitchTask: "switch", m.TryTask: "try", m.WaitTask: "wait",
}


def kind_of(task: Any) -> str:
    return _KIND.get(type(task), "call")


def applicable(mc: Machine, item: m.TaskItem, raw_input: Any, vars: dict[str, Any]) -> list[int]:
    """Indexes of the extensions that apply to ``item`` now."""
    if not mc.defn.extensions or UNEXTENDED in vars or item.ref.startswith("/use/extensions/"):
        return []
    kind = kind_of(item.task)
    found = []
    for index, (_, ext) in enumerate(mc.defn.extensions):
        if ext.extend not in (kind, "all"):
            continue
        if ext.when is not None:
            task = {**item.raw, "name": item.name, "reference": item.ref, "definition": item.raw,
                    "input": raw_input, "startedAt": datetime_descriptor(mc.now)}
            try:
                if not truthy(mc.field(ext.when, raw_input, None, {**vars, "task": task})):
                    continue
            except (ExpressionError, WorkflowError):
                continue
        if ext.before or ext.after:
            found.append(index)
    return found


class ExtensionHandler:
    """Drives the wrapper frame of an extended task (see the module docstring)."""

    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        return self._next(mc, frame, item, vars)

    def resume(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any) -> Result | None:
        raise AssertionError("an extension wrapper waits on nothing itself")

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        if not isinstance(result, Ok):
            return result
        state = frame.extra["ext"]
        if state["phase"] == "before" and result.exited:
            return Ok(result.output, then=item.task.then)
        if state["phase"] == "task":
            state["output"] = result.output
            state["then"] = "exit" if result.exited else result.then
            state["phase"], state["i"] = "after", 0
        return self._next(mc, frame, item, vars)

    def _next(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        """Start the next list of the wrapper; loop while lists finish at once."""
        while True:
            lst = self._list(mc, frame, item, vars)
            if lst is None:
                state = frame.extra["ext"]
                return Ok(state.get("output"), then=state.get("then"))
            outcome = mc.start_child(frame, lst)
            if outcome is None:
                return None
            result = self.child(mc, frame, item, vars, lst, outcome)
            if result is not None or frame.lists:
                return result

    def _list(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> ListFrame | None:
        state = frame.extra["ext"]
        while True:
            phase, position = state["phase"], state["i"]
            if phase == "task":
                return ListFrame(id=f"{frame.id}/self", list_ref=mc.defn.self_list(item.ref), only=True,
                                 data=frame.raw_input, vars={**vars, UNEXTENDED: True})
            todo = state["todo"]
            if position >= len(todo):
                if phase == "after":
                    return None
                state["phase"], state["i"] = "task", 0
                continue
            state["i"] = position + 1
            index = todo[position]
            name, ext = mc.defn.extensions[index]
            tasks = ext.before if phase == "before" else ext.after
            if tasks:
                data = frame.raw_input if phase == "before" else state["output"]
                return ListFrame(id=f"{frame.id}/ext{index}/{phase}", data=data, vars=vars,
                                 list_ref=f"/use/extensions/{index}/{name}/{phase}")
