"""The core of the interpreter: running task lists, finishing tasks, routing results.

A :class:`Machine` lives for one ``advance`` call. It mutates the execution state in
place and collects the commands and lifecycle events of the step. Task types plug in
through handlers (``flunq.interpreter.tasks``) with three hooks:

- ``start(m, frame, item, vars)``: begin the task; return a result, or ``None`` to wait;
- ``resume(m, frame, item, vars, fact)``: a fact addressed to the task (its effect, a timer
  of its own such as a retry delay, a listened event) arrived;
- ``child(m, frame, item, vars, lst, result)``: one of its child lists finished.

Results are :class:`Ok` (raw output and, optionally, the flow directive to follow),
:class:`Fault` (an RFC 7807 error) or :class:`End` (``then: end`` somewhere below).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flunq import expressions
from flunq.dsl import model as m
from flunq.dsl.durations import parse_duration
from flunq.errors import ExpressionError, WorkflowError, problem
from flunq.interpreter import lifecycle
from flunq.interpreter.definition import Definition, describe_duration
from flunq.interpreter.protocol import (
    CancelEffect,
    CancelTimer,
    Command,
    LifecycleEvent,
    Listen,
    Perform,
    StartTimer,
    StartWorkflow,
    Unlisten,
)
from flunq.interpreter.scope import Scope, datetime_descriptor
from flunq.interpreter.state import ExecutionState, ListFrame, TaskFrame
from flunq.interpreter.times import later


@dataclass(slots=True)
class Ok:
    output: Any
    then: str | None = None
    exited: bool = False


@dataclass(slots=True)
class Fault:
    error: dict[str, Any]


@dataclass(slots=True)
class End:
    output: Any


Result = Ok | Fault | End


class _NotHere:
    """Marker: the addressed frame is not under this one."""


NOT_HERE = _NotHere()


class BudgetExhausted(Exception):
    """The execution ran more tasks than the step budget allows."""


@dataclass(frozen=True, slots=True)
class Env:
    """What the runtime lends the interpreter for a step; never journaled."""

    secrets: Mapping[str, Any] = field(default_factory=dict)
    runtime: dict[str, Any] = field(
        default_factory=lambda: {"name": "flunq", "version": "0.1.0", "metadata": {}}
    )
    max_steps: int = 100_000  # tasks one advance call may run (a 'then' loop that never waits)
    lifecycle_outputs: bool = True  # put task outputs in task.completed events


class Handler(Protocol):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None: ...

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None: ...

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None: ...


def as_fault(exc: WorkflowError | ExpressionError) -> Fault:
    """The fault a task gets from an error raised while it ran."""
    return Fault(exc.problem if isinstance(exc, WorkflowError) else exc.problem())


def covers(prefix: str, target: str) -> bool:
    """Is ``target`` the frame ``prefix`` or an id beneath it?"""
    if not target.startswith(prefix):
        return False
    return len(target) == len(prefix) or target[len(prefix)] in "/#["


def truthy(value: Any) -> bool:
    """jq truthiness: only ``false`` and ``null`` are false."""
    return value is not None and value is not False


class Machine:
    def __init__(self, defn: Definition, state: ExecutionState, env: Env, now: str) -> None:
        from flunq.interpreter.tasks import HANDLERS  # tasks import this module
        from flunq.interpreter.tasks.extension import ExtensionHandler

        self.handlers: dict[type, Handler] = HANDLERS  # type: ignore[assignment]
        self.extension_handler = ExtensionHandler()
        self.defn = defn
        self.state = state
        self.env = env
        self.now = now
        self.steps = 0  # tasks run in this advance call, against the budget
        self.commands: list[Command] = []
        self.events: list[LifecycleEvent] = []
        self._workflow: dict[str, Any] | None = None

    # -- identity and descriptors -------------------------------------------------------

    @property
    def qualified_name(self) -> str:
        return f"{self.defn.name}-{self.state.id}.{self.defn.namespace}"

    def workflow_descriptor(self) -> dict[str, Any]:
        if self._workflow is None:
            self._workflow = {
                "id": self.state.id,
                "definition": self.defn.raw,
                "input": self.state.input,
                "startedAt": datetime_descriptor(self.state.started_at),
            }
        return self._workflow

    def secrets(self) -> dict[str, Any]:
        """``$secrets``: the secrets the workflow declares in ``use.secrets``, and only those.

        A declared secret the runtime cannot provide is an ``authorization`` error (403).
        """
        declared = self.defn.use.secrets or []
        missing = [name for name in declared if name not in self.env.secrets]
        if missing:
            raise WorkflowError.of(
                "authorization", title="Secret Unavailable",
                detail=f"secret(s) {', '.join(repr(n) for n in missing)} are not available to this execution",
            )
        return {name: self.env.secrets[name] for name in declared}

    def uuid_for(self, key: str) -> str:
        """A UUID that is the same every time this step is replayed."""
        digest = hashlib.sha256(f"{self.state.id}|{key}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def random_for(self, key: str) -> float:
        """A number in [0, 1) that is the same every time this step is replayed."""
        digest = hashlib.sha256(f"{self.state.id}|{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    # -- expressions --------------------------------------------------------------------

    def scope(self, frame: TaskFrame | None, vars: Mapping[str, Any], **extra: Any) -> Scope:
        return Scope(self, frame, vars, extra)

    def field(self, text: str, data: Any, frame: TaskFrame | None, vars: Mapping[str, Any], **extra: Any) -> Any:
        """Evaluate an expression-only field (``if``, ``when``, ``for.in``...)."""
        return expressions.evaluate_field(
            text, data, self.scope(frame, vars, **extra), language=self.defn.language
        )

    def value(self, value: Any, data: Any, frame: TaskFrame | None, vars: Mapping[str, Any], **extra: Any) -> Any:
        """Evaluate the ``${}`` strings inside a value (``set``, ``with``, ``body``...)."""
        return expressions.evaluate_value(
            value,
            data,
            self.scope(frame, vars, **extra),
            language=self.defn.language,
            mode=self.defn.mode,
        )

    def transform(self, spec: str | dict[str, Any] | None, data: Any, frame: TaskFrame | None,
                  vars: Mapping[str, Any], **extra: Any) -> Any:
        """``input.from`` / ``output.as`` / ``export.as``: an expression or an object of them."""
        if spec is None:
            return data
        if isinstance(spec, str):
            return self.field(spec, data, frame, vars, **extra)
        return self.value(spec, data, frame, vars, **extra)

    def duration(self, value: m.Duration, data: Any, frame: TaskFrame | None, vars: Mapping[str, Any]) -> float:
        if isinstance(value, str) and expressions.is_expression(value):
            value = self.field(value, data, frame, vars)
            if not isinstance(value, str):
                raise WorkflowError.of(
                    "expression", detail=f"a duration expression must give an ISO 8601 string, got {value!r}"
                )
        try:
            return parse_duration(value)
        except Exception as exc:
            raise WorkflowError.of("expression", detail=f"invalid duration {value!r}: {exc}") from None

    # -- effects, timers, listeners -----------------------------------------------------

    def perform(self, frame: TaskFrame, kind: str, args: dict[str, Any]) -> None:
        cmd = Perform(effect_id=frame.id, kind=kind, args=args, task=frame.ref)
        self.state.inflight[frame.id] = cmd
        self.commands.append(cmd)
        frame.effect = frame.id

    def start_workflow(self, frame: TaskFrame, cmd: StartWorkflow) -> None:
        self.state.inflight[cmd.effect_id] = cmd
        self.commands.append(cmd)
        frame.effect = cmd.effect_id

    def start_timer(self, timer_id: str, seconds: float) -> None:
        due = later(self.now, max(seconds, 0.0))
        self.state.timers[timer_id] = due
        self.commands.append(StartTimer(timer_id=timer_id, due=due))

    def cancel_timer(self, timer_id: str | None) -> None:
        if timer_id is not None and self.state.timers.pop(timer_id, None) is not None:
            self.commands.append(CancelTimer(timer_id=timer_id))

    def listen(self, listener_id: str, filters: list[dict[str, Any]]) -> None:
        cmd = Listen(listener_id=listener_id, filters=filters)
        self.state.listeners[listener_id] = cmd
        self.commands.append(cmd)

    def unlisten(self, listener_id: str) -> None:
        if self.state.listeners.pop(listener_id, None) is not None:
            self.commands.append(Unlisten(listener_id=listener_id))

    def release(self, prefix: str) -> None:
        """Drop every effect, timer and listener at or under ``prefix``."""
        state = self.state
        for eid in [e for e in state.inflight if covers(prefix, e)]:
            del state.inflight[eid]
            self.commands.append(CancelEffect(effect_id=eid))
        for tid in [t for t in state.timers if covers(prefix, t)]:
            self.cancel_timer(tid)
        for lid in [lid for lid in state.listeners if covers(prefix, lid)]:
            self.unlisten(lid)

    def abandon(self, frame: TaskFrame) -> None:
        """Cancel a running task and everything under it (a timeout, a lost race, an end)."""
        self.abandon_children(frame)
        self.cancel_timer(frame.timeout)
        frame.timeout = None
        self.release(frame.id)
        self.task_event("cancelled", frame)

    def abandon_children(self, frame: TaskFrame) -> None:
        for lst in frame.lists:
            if lst.task is not None:
                self.abandon(lst.task)
                lst.task = None
        frame.lists = []

    def event(self, ev: LifecycleEvent) -> None:
        self.events.append(ev)

    def task_event(self, kind: str, frame: TaskFrame, **data: Any) -> None:
        self.events.append(lifecycle.task_event(kind, self.now, self.qualified_name, frame.ref, **data))

    # -- running tasks ------------------------------------------------------------------

    def run_list(self, lst: ListFrame) -> Result | None:
        """Run tasks of ``lst`` from ``lst.index`` until one waits or the list ends."""
        while True:
            outcome = self.enter(lst)
            if isinstance(outcome, TaskFrame):
                lst.task = outcome
                return None
            done = self.after_task(lst, outcome)
            if done is not None:
                return done

    def enter(self, lst: ListFrame) -> Result | TaskFrame:
        items = self.defn.lists[lst.list_ref]
        item = items[lst.index]
        key = str(lst.index)
        visits = lst.visits.get(key, 0)
        lst.visits[key] = visits + 1
        fid = f"{lst.id}/{lst.index}/{item.name}" + (f"~{visits}" if visits else "")
        return self.start_task(item, fid, lst.data, lst.vars)

    def after_task(self, lst: ListFrame, result: Result) -> Result | None:
        """Follow the flow directive of a finished task; a result when the list is done."""
        lst.task = None
        if not isinstance(result, Ok):
            return result
        lst.data = result.output
        then = result.then or "continue"
        if then == "end":
            return End(result.output)
        if lst.only or then == "exit":
            return Ok(result.output, then=None if then in ("continue", "exit") else then, exited=then == "exit")
        items = self.defn.lists[lst.list_ref]
        if then == "continue":
            lst.index += 1
            return Ok(lst.data) if lst.index >= len(items) else None
        for index, candidate in enumerate(items):
            if candidate.name == then:
                lst.index = index
                return None
        where = items[lst.index].ref
        return Fault(problem("configuration", detail=f"then target '{then}' is not a task of this list", instance=where))

    def start_task(self, item: m.TaskItem, fid: str, raw_input: Any, vars: dict[str, Any]) -> Result | TaskFrame:
        self.state.steps += 1
        self.steps += 1
        if self.steps > self.env.max_steps:
            raise BudgetExhausted(item.ref)
        task = item.task
        frame = TaskFrame(id=fid, ref=item.ref, raw_input=raw_input, started_at=self.now)
        if self.defn.extensions:
            wrapped = self._extended(frame, item, vars)
            if wrapped is not None:
                return wrapped
        try:
            if task.if_ is not None and not truthy(self.field(task.if_, raw_input, frame, vars)):
                return Ok(raw_input)
            self.task_event("created", frame)
            self.task_event("started", frame)
            frame.input = raw_input
            if task.input is not None:
                if task.input.schema is not None:
                    self.defn.validate(task.input.schema, raw_input, "task input")
                frame.input = self.transform(task.input.from_, raw_input, frame, vars)
            after = self.defn.timeout(task.timeout)
            if after is not None:
                frame.timeout = fid + "#timeout"
                self.start_timer(frame.timeout, self.duration(after, frame.input, frame, vars))
            result = self.handler(item).start(self, frame, item, vars)
        except (WorkflowError, ExpressionError) as exc:
            result = as_fault(exc)
        if result is None:
            return frame
        return self.finish(frame, item, vars, result)

    def handler(self, item: m.TaskItem, frame: TaskFrame | None = None) -> Handler:
        if frame is not None and "ext" in frame.extra:
            return self.extension_handler
        return self.handlers[type(item.task)]

    def _extended(self, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | TaskFrame | None:
        """Run ``item`` inside an extension wrapper if an extension applies, else None."""
        from flunq.interpreter.tasks.extension import applicable

        todo = applicable(self, item, frame.raw_input, vars)
        if not todo:
            return None
        frame.extra = {"ext": {"todo": todo, "phase": "before", "i": 0}}
        try:
            result = self.extension_handler.start(self, frame, item, vars)
        except (WorkflowError, ExpressionError) as exc:
            result = as_fault(exc)
        return frame if result is None else self.finish(frame, item, vars, result)

    def finish(self, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], result: Result) -> Result:
        self.cancel_timer(frame.timeout)
        frame.timeout = None
        if "ext" in frame.extra:  # an extension wrapper: the task inside did the data flow
            if isinstance(result, Fault):
                self.release(frame.id)
            return result
        if isinstance(result, Ok):
            try:
                return self._complete(frame, item, vars, result)
            except (WorkflowError, ExpressionError) as exc:
                result = as_fault(exc)
        if isinstance(result, Fault):
            error = dict(result.error)
            error.setdefault("instance", item.ref)
            self.release(frame.id)
            self.task_event("faulted", frame, error=error)
            return Fault(error)
        self.task_event("completed", frame)
        return result

    def _complete(self, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], result: Ok) -> Result:
        task = item.task
        raw = result.output
        output = raw
        if task.output is not None:
            output = self.transform(task.output.as_, raw, frame, vars, raw_output=raw)
            if task.output.schema is not None:
                self.defn.validate(task.output.schema, output, "task output")
        if task.export is not None:
            if task.export.as_ is not None:
                self.state.context = self.transform(
                    task.export.as_, output, frame, vars, output=output, raw_output=raw
                )
            if task.export.schema is not None:
                self.defn.validate(task.export.schema, self.state.context, "exported context")
        self.task_event("completed", frame, output=output if self.env.lifecycle_outputs else None)
        return Ok(output, then=result.then or task.then, exited=False)

    # -- delivering facts ---------------------------------------------------------------

    def deliver_list(self, lst: ListFrame, target: str, fact: Any) -> Result | _NotHere | None:
        task = lst.task
        if task is None or not covers(task.id, target):
            return NOT_HERE
        outcome = self.deliver_task(task, lst.vars, target, fact)
        if outcome is NOT_HERE or outcome is None:
            return outcome
        assert not isinstance(outcome, _NotHere)
        done = self.after_task(lst, outcome)
        return done if done is not None else self.run_list(lst)

    def deliver_task(self, frame: TaskFrame, vars: dict[str, Any], target: str, fact: Any) -> Result | _NotHere | None:
        item = self.defn.tasks[frame.ref]
        handler = self.handler(item, frame)
        result: Result | None
        try:
            if target == frame.timeout:
                frame.timeout = None
                self.abandon_children(frame)
                self.release(frame.id)
                after = describe_duration(self.defn.timeout(item.task.timeout))
                result = Fault(problem("timeout", title="Timeout", detail=f"task timed out after {after}"))
            elif target == frame.effect or target.startswith(frame.id + "#"):
                result = handler.resume(self, frame, item, vars, fact)
            else:
                return self._deliver_children(frame, item, vars, target, fact)
        except (WorkflowError, ExpressionError) as exc:
            result = as_fault(exc)
        return None if result is None else self.finish(frame, item, vars, result)

    def _deliver_children(self, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
                          target: str, fact: Any) -> Result | _NotHere | None:
        for lst in frame.lists:
            if not covers(lst.id, target):
                continue
            outcome = self.deliver_list(lst, target, fact)
            if outcome is NOT_HERE:
                continue
            if outcome is None:
                return None
            assert not isinstance(outcome, _NotHere)
            return self.child_done(frame, item, vars, lst, outcome)
        return NOT_HERE

    def child_done(self, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
                   lst: ListFrame, outcome: Result) -> Result | None:
        """A child list of ``frame`` finished: let the task's handler decide what follows."""
        if lst in frame.lists:
            frame.lists.remove(lst)
        try:
            if isinstance(outcome, End):
                self.abandon_children(frame)
                result: Result | None = outcome
            else:
                result = self.handler(item, frame).child(self, frame, item, vars, lst, outcome)
        except (WorkflowError, ExpressionError) as exc:
            result = as_fault(exc)
        if result is None:
            return None
        return self.finish(frame, item, vars, result)

    def start_child(self, frame: TaskFrame, lst: ListFrame) -> Result | None:
        """Run a new child list of ``frame``; the list's result if it finished already."""
        frame.lists.append(lst)
        outcome = self.run_list(lst)
        if outcome is not None:
            frame.lists.remove(lst)
        return outcome
