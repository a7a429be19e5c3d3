"""``emit``: publish a CloudEvent; the task's output is the event itself."""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import WorkflowError
from flunq.interpreter.machine import Machine, Ok, Result
from flunq.interpreter.protocol import Emit
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf


class EmitHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        props = mc.value(item.task.emit.event.with_ or {}, frame.input, frame, vars)
        event: dict[str, Any] = {"specversion": "1.0", "id": mc.uuid_for(frame.id), "time": mc.now}
        event.update((k, v) for k, v in props.items() if v is not None)
        for required in ("source", "type"):
            if not isinstance(event.get(required), str) or not event[required]:
                raise WorkflowError.of(
                    "validation", detail=f"an emitted event needs a non-empty string '{required}'"
                )
        if "data" in event and "datacontenttype" not in event:
            event["datacontenttype"] = "application/json"
        mc.commands.append(Emit(event=event))
        return Ok(event)
