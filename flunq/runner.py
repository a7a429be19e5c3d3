"""Run workflows to the end inside one process, with no store and no bus.

This is what ``flunq run FILE`` uses, and what the conformance tests use: it feeds the
interpreter its facts and performs its commands directly (effects through
:mod:`flunq.effects`, timers with ``asyncio`` sleeps, emitted events to the execution's own
listeners and to :attr:`LocalRunner.emitted`, child workflows recursively). Nothing is
durable here: the engine for that is ``flunq serve``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flunq import effects
from flunq.errors import WorkflowError, problem
from flunq.interpreter import Definition, Env, ExecutionState, advance
from flunq.interpreter.events import filter_matches
from flunq.interpreter.execution import TERMINAL
from flunq.interpreter.protocol import (
    CancelEffect,
    CancelTimer,
    Command,
    EffectCompleted,
    EffectFailed,
    Emit,
    EventReceived,
    Fact,
    LifecycleEvent,
    Listen,
    Perform,
    Started,
    StartTimer,
    StartWorkflow,
    TimerFired,
    Unlisten,
)
from flunq.interpreter.times import from_epoch, to_epoch

#: Finds a workflow for ``run: workflow`` by (namespace, name, version).
Registry = Callable[[str, str, str], Definition | None]


class Execution:
    """One execution driven by a :class:`LocalRunner`."""

    def __init__(self, runner: LocalRunner, defn: Definition, execution_id: str) -> None:
        self.runner = runner
        self.defn = defn
        self.id = execution_id
        self.state: ExecutionState | None = None
        self.events: list[LifecycleEvent] = []
        self.facts: list[Fact] = []  # the journal of facts, for replay tests
        self._inbox: asyncio.Queue[Fact] = asyncio.Queue()
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._listeners: dict[str, Listen] = {}

    async def run(self, data: Any) -> ExecutionState:
        fact: Fact = Started(at=self.runner.now(), execution_id=self.id, input=data)
        try:
            while True:
                self.facts.append(fact)
                step = advance(self.defn, self.state, fact, self.runner.env)
                self.state = step.state
                self.events.extend(step.events)
                for command in step.commands:
                    self._perform(command)
                if self.state.status in TERMINAL:
                    return self.state
                fact = await self._inbox.get()
        finally:
            for job in self._jobs.values():
                job.cancel()

    def deliver(self, event: dict[str, Any]) -> None:
        """Offer a CloudEvent to this execution's listeners."""
        for listener in self._listeners.values():
            if any(filter_matches(f, event, self.defn.language) for f in listener.filters):
                self._inbox.put_nowait(
                    EventReceived(at=self.runner.now(), listener_id=listener.listener_id, event=event)
                )

    def _perform(self, command: Command) -> None:
        if isinstance(command, Perform):
            self._job(command.effect_id, self._effect(command))
        elif isinstance(command, StartWorkflow):
            self._job(command.effect_id, self._child(command))
        elif isinstance(command, StartTimer):
            self._job(command.timer_id, self._timer(command))
        elif isinstance(command, (CancelTimer, CancelEffect)):
            key = command.timer_id if isinstance(command, CancelTimer) else command.effect_id
            job = self._jobs.pop(key, None)
            if job is not None:
                job.cancel()
        elif isinstance(command, Listen):
            self._listeners[command.listener_id] = command
        elif isinstance(command, Unlisten):
            self._listeners.pop(command.listener_id, None)
        elif isinstance(command, Emit):
            self.runner.publish(command.event)

    def _job(self, key: str, coro: Any) -> None:
        self._jobs[key] = asyncio.get_running_loop().create_task(coro, name=f"flunq-local:{key}")

    async def _effect(self, command: Perform) -> None:
        try:
            result = await effects.perform(command, self.runner.effects)
            fact: Fact = EffectCompleted(at=self.runner.now(), effect_id=command.effect_id, result=result)
        except WorkflowError as exc:
            fact = EffectFailed(at=self.runner.now(), effect_id=command.effect_id, error=exc.problem)
        self._jobs.pop(command.effect_id, None)
        if command.effect_id in (self.state.inflight if self.state else {}):
            self._inbox.put_nowait(fact)

    async def _timer(self, command: StartTimer) -> None:
        await asyncio.sleep(max(0.0, to_epoch(command.due) - time.time()))
        self._jobs.pop(command.timer_id, None)
        self._inbox.put_nowait(TimerFired(at=self.runner.now(), timer_id=command.timer_id))

    async def _child(self, command: StartWorkflow) -> None:
        defn = self.runner.registry(command.namespace, command.name, command.version)
        if defn is None:
            error = problem(
                "configuration",
                detail=f"workflow {command.namespace}/{command.name}:{command.version} is not known",
            )
            fact: Fact = EffectFailed(at=self.runner.now(), effect_id=command.effect_id, error=error)
        else:
            state = await self.runner.start(defn, command.input).run(command.input)
            if state.status == "completed":
                fact = EffectCompleted(at=self.runner.now(), effect_id=command.effect_id, result=state.output)
            else:
                error = state.error or problem("runtime", detail=f"child workflow ended {state.status}")
                fact = EffectFailed(at=self.runner.now(), effect_id=command.effect_id, error=error)
        if command.wait:
            self._inbox.put_nowait(fact)


class LocalRunner:
    """Runs executions in this process; see the module docstring."""

    def __init__(
        self,
        *,
        effects_context: effects.EffectContext | None = None,
        registry: Registry | None = None,
        secrets: Mapping[str, Any] | None = None,
        env: Env | None = None,
    ) -> None:
        self.effects = effects_context or effects.EffectContext()
        self.registry: Registry = registry or (lambda ns, name, version: None)
        self.env = env or Env(secrets=dict(secrets or {}))
        self.emitted: list[dict[str, Any]] = []
        self.executions: list[Execution] = []

    @staticmethod
    def now() -> str:
        return from_epoch(time.time())

    def start(self, defn: Definition, data: Any = None) -> Execution:
        execution = Execution(self, defn, str(uuid.uuid4()))
        self.executions.append(execution)
        return execution

    async def run(self, defn: Definition, data: Any = None) -> Execution:
        execution = self.start(defn, data)
        await execution.run(data)
        return execution

    def publish(self, event: dict[str, Any]) -> None:
        """Record an emitted event and offer it to every live execution's listeners."""
        self.emitted.append(event)
        for execution in self.executions:
            if execution.state is not None and execution.state.status not in TERMINAL:
                execution.deliver(event)

    async def aclose(self) -> None:
        await self.effects.aclose()
