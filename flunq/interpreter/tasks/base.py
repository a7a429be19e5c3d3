"""What every task handler shares: default hooks for leaves and for effect results."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import ERROR_TYPE_PREFIX, problem
from flunq.interpreter.machine import Fault, Machine, Ok, Result
from flunq.interpreter.protocol import EffectCompleted, EffectFailed
from flunq.interpreter.state import ListFrame, TaskFrame


class Leaf:
    """A task that runs no child list. Effects answer through :meth:`resume`."""

    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        raise NotImplementedError

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None:
        return effect_result(fact)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        raise AssertionError(f"{type(self).__name__} has no child lists")


def normalized(error: Any) -> dict[str, Any]:
    """An error reported from outside, made to carry the ``type`` and ``status`` the DSL requires."""
    if not isinstance(error, dict):
        return problem("runtime", detail=f"an effect failed with an unreadable error: {error!r}")
    out = dict(error)
    if not isinstance(out.get("type"), str) or not out["type"]:
        out["type"] = ERROR_TYPE_PREFIX + "runtime"
    if not isinstance(out.get("status"), int) or isinstance(out["status"], bool):
        out["status"] = 500
    return out


def effect_result(fact: Any) -> Result:
    if isinstance(fact, EffectCompleted):
        return Ok(fact.result)
    if isinstance(fact, EffectFailed):
        return Fault(normalized(fact.error))
    raise AssertionError(f"unexpected fact {type(fact).__name__} for an effect")
