"""Shared helpers for the interpreter tests: build definitions, feed facts, fake the clock.

``definition(body)`` loads a workflow from YAML text (the ``document`` header is added when
the text has none). A :class:`Driver` feeds one execution hand-made facts through
``advance()`` and keeps every step, command and lifecycle event; its clock only moves when a
test says so (``tick``) or when a timer fires (the clock jumps to the timer's due time), so
every timestamp is exact. :func:`drive` runs an execution to the end, answering effects with
a callback and firing timers in due order.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flunq.dsl import load
from flunq.interpreter import Definition, Env, ExecutionState, Step, advance
from flunq.interpreter.protocol import (
    CancelRequested,
    Command,
    EffectCompleted,
    EffectFailed,
    EventReceived,
    Fact,
    LifecycleEvent,
    Perform,
    ResumeRequested,
    Started,
    StartWorkflow,
    SuspendRequested,
    TimerFired,
)

T0 = "2026-01-01T00:00:00.000000Z"
EXECUTION_ID = "exec-1"
ERR = "https://serverlessworkflow.io/spec/1.0.0/errors/"
PREFIX = "io.serverlessworkflow."

HEADER = "document:\n  dsl: '1.0.3'\n  namespace: test\n  name: {name}\n  version: '0.1.0'\n"


def definition(body: str, *, name: str = "wf", validate: bool = True) -> Definition:
    """A :class:`Definition` from YAML text; adds a ``document`` header when missing."""
    text = textwrap.dedent(body).strip("\n") + "\n"
    if not text.startswith("document:"):
        text = HEADER.format(name=name) + text
    loaded = load(text, f"{name}.yaml", validate=validate)
    return Definition(loaded.workflow, loaded.data)


def at(seconds: float) -> str:
    """The ISO time ``seconds`` after :data:`T0`."""
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_type(kind: str) -> str:
    return ERR + kind


def event_types(events: list[LifecycleEvent]) -> list[str]:
    """Lifecycle event types without the common prefix and version: ``task.completed``."""
    return [e.type.removeprefix(PREFIX).removesuffix(".v1") for e in events]


def command_names(commands: list[Command]) -> list[str]:
    """``perform:http``, ``timer.start``, ``emit``... in order."""
    names = []
    for cmd in commands:
        tag = type(cmd).__struct_config__.tag
        names.append(f"perform:{cmd.kind}" if isinstance(cmd, Perform) else str(tag))
    return names


class Driver:
    """Feeds facts to one execution; the clock is fake and moves only when told."""

    def __init__(self, defn: Definition, env: Env | None = None, execution_id: str = EXECUTION_ID) -> None:
        self.defn = defn
        self.env = env or Env()
        self.execution_id = execution_id
        self.now = T0
        self.state: ExecutionState | None = None
        self.steps: list[Step] = []
        self.facts: list[Fact] = []
        self.commands: list[Command] = []
        self.events: list[LifecycleEvent] = []

    # -- clock --------------------------------------------------------------------------

    def tick(self, seconds: float) -> str:
        moment = datetime.fromisoformat(self.now.replace("Z", "+00:00")) + timedelta(seconds=seconds)
        self.now = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return self.now

    # -- facts --------------------------------------------------------------------------

    def feed(self, fact: Fact) -> Step:
        step = advance(self.defn, self.state, fact, self.env)
        self.state = step.state
        self.facts.append(fact)
        self.steps.append(step)
        self.commands.extend(step.commands)
        self.events.extend(step.events)
        return step

    def start(self, data: Any = None, parent: str | None = None) -> Step:
        return self.feed(Started(at=self.now, execution_id=self.execution_id, input=data, parent=parent))

    def complete(self, effect_id: str, result: Any = None) -> Step:
        return self.feed(EffectCompleted(at=self.now, effect_id=effect_id, result=result))

    def fail(self, effect_id: str, error: dict[str, Any]) -> Step:
        return self.feed(EffectFailed(at=self.now, effect_id=effect_id, error=error))

    def fire(self, timer_id: str, *, jump: bool = True) -> Step:
        """Fire an armed timer; the clock first jumps to its due time (unless ``jump=False``)."""
        if jump and self.state is not None and timer_id in self.state.timers:
            self.now = self.state.timers[timer_id]
        return self.feed(TimerFired(at=self.now, timer_id=timer_id))

    def event(self, listener_id: str, event: dict[str, Any]) -> Step:
        return self.feed(EventReceived(at=self.now, listener_id=listener_id, event=event))

    def cancel(self, reason: str | None = None) -> Step:
        return self.feed(CancelRequested(at=self.now, reason=reason))

    def suspend(self) -> Step:
        return self.feed(SuspendRequested(at=self.now))

    def resume(self) -> Step:
        return self.feed(ResumeRequested(at=self.now))

    # -- views --------------------------------------------------------------------------

    @property
    def st(self) -> ExecutionState:
        assert self.state is not None, "not started"
        return self.state

    @property
    def status(self) -> str:
        return self.st.status

    @property
    def output(self) -> Any:
        return self.st.output

    @property
    def error(self) -> dict[str, Any] | None:
        return self.st.error

    @property
    def last(self) -> Step:
        return self.steps[-1]

    def performs(self, step: Step | None = None) -> list[Perform]:
        """The ``Perform`` commands of ``step`` (default: of the whole run)."""
        commands = step.commands if step is not None else self.commands
        return [c for c in commands if isinstance(c, Perform)]

    def perform(self, step: Step | None = None) -> Perform:
        """The only ``Perform`` of ``step`` (default: the last step)."""
        found = self.performs(step if step is not None else self.last)
        assert len(found) == 1, f"expected one Perform, got {found}"
        return found[0]

    def of(self, cls: type, step: Step | None = None) -> list[Any]:
        commands = step.commands if step is not None else self.commands
        return [c for c in commands if isinstance(c, cls)]

    def task_events(self, kind: str) -> list[str]:
        """Task references of the ``task.<kind>`` events of the run, in order."""
        wanted = f"{PREFIX}task.{kind}.v1"
        return [e.data["task"] for e in self.events if e.type == wanted]


def run(body: str | Definition, data: Any = None, env: Env | None = None) -> Driver:
    """Start an execution of a pure workflow (or one that waits) and return its driver."""
    defn = body if isinstance(body, Definition) else definition(body)
    driver = Driver(defn, env)
    driver.start(data)
    return driver


Responder = Callable[[Perform | StartWorkflow], Any]


def drive(
    defn: Definition,
    data: Any = None,
    respond: Responder | None = None,
    env: Env | None = None,
    max_facts: int = 1000,
) -> Driver:
    """Run to the end: answer effects with ``respond`` (its return value is the result; an
    ``EffectFailed`` it returns is fed as is), fire the earliest timer when nothing else is
    pending. Listeners get nothing: a workflow waiting only for events stops there."""
    driver = Driver(defn, env)
    driver.start(data)
    pending: list[Perform | StartWorkflow] = _effects(driver.last.commands)
    for _ in range(max_facts):
        if driver.status in ("completed", "faulted", "cancelled"):
            break
        pending = [c for c in pending if c.effect_id in driver.st.inflight]
        if pending:
            cmd = pending.pop(0)
            answer = respond(cmd) if respond is not None else None
            if isinstance(answer, EffectFailed):
                step = driver.fail(cmd.effect_id, answer.error)
            else:
                step = driver.complete(cmd.effect_id, answer)
        elif driver.st.timers:
            timer = min(driver.st.timers.items(), key=lambda kv: (kv[1], kv[0]))[0]
            step = driver.fire(timer)
        else:
            break
        pending.extend(_effects(step.commands))
    return driver


def _effects(commands: list[Command]) -> list[Perform | StartWorkflow]:
    return [c for c in commands if isinstance(c, (Perform, StartWorkflow))]


def failed(error: dict[str, Any]) -> EffectFailed:
    """A marker for :func:`drive` responders: answer the effect with this error."""
    return EffectFailed(at=T0, effect_id="", error=error)
