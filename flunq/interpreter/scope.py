"""The argument variables an expression sees (``$context``, ``$task``, ``$item``...).

A :class:`Scope` is a lazy mapping: the expression layer only asks for the variables an
expression references, so descriptors such as ``$task`` or ``$workflow`` (which carry
whole definitions) are built only when used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flunq.interpreter.machine import Machine
    from flunq.interpreter.state import TaskFrame

STANDARD = ("context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization")


def datetime_descriptor(iso: str) -> dict[str, Any]:
    """The DSL's dateTime descriptor of an ISO 8601 UTC timestamp."""
    if not iso:
        return {"iso8601": None, "epoch": {"seconds": None, "milliseconds": None}}
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    millis = round(moment.timestamp() * 1000)
    return {"iso8601": iso, "epoch": {"seconds": millis // 1000, "milliseconds": millis}}


class Scope(Mapping[str, Any]):
    """Variables for one evaluation; ``extra`` holds ``output``/``authorization``."""

    __slots__ = ("_extra", "_frame", "_machine", "_vars")

    def __init__(
        self,
        machine: Machine,
        frame: TaskFrame | None,
        variables: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._machine = machine
        self._frame = frame
        self._vars = variables
        self._extra = extra or {}

    def __getitem__(self, name: str) -> Any:
        if name in self._vars:
            return self._vars[name]
        if name in self._extra:
            return self._extra[name]
        machine = self._machine
        if name == "context":
            return machine.state.context
        if name == "input":
            return self._frame.input if self._frame is not None else None
        if name == "secrets":
            return machine.secrets()
        if name == "task":
            return self._task() if self._frame is not None else None
        if name == "workflow":
            return machine.workflow_descriptor()
        if name == "runtime":
            return machine.env.runtime
        if name == "authorization":
            return self._frame.extra.get("authorization") if self._frame is not None else None
        if name in STANDARD:
            return None
        raise KeyError(name)

    def _task(self) -> dict[str, Any]:
        frame = self._frame
        assert frame is not None
        item = self._machine.defn.tasks[frame.ref]
        return {
            "name": item.name,
            "reference": frame.ref,
            "definition": item.raw,
            "input": frame.raw_input,
            "output": self._extra.get("raw_output"),
            "startedAt": datetime_descriptor(frame.started_at),
        }

    def __iter__(self) -> Iterator[str]:
        yield from self._vars
        yield from (n for n in STANDARD if n not in self._vars)

    def __len__(self) -> int:
        return len(set(self._vars) | set(STANDARD))

    def __contains__(self, name: object) -> bool:
        return name in self._vars or name in STANDARD
