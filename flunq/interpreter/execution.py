"""``advance``: feed one fact to an execution and get its next state.

``advance(definition, state, fact, env) -> Step`` is deterministic: the same definition,
state and fact give the same step (times and ids come from the fact and the execution id,
never from a clock or a random source). It performs no I/O. For speed it updates ``state``
in place and returns it in the step: callers hand the state over and must not keep using
the object they passed.

Pure tasks (``set``, ``switch``, ``do``, ``for`` bookkeeping, ``raise``, data-flow
transforms) all run inside one call; only effects leave as commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flunq.errors import ExpressionError, WorkflowError, problem
from flunq.interpreter import lifecycle
from flunq.interpreter.definition import Definition, describe_duration
from flunq.interpreter.machine import (
    NOT_HERE,
    BudgetExhausted,
    End,
    Env,
    Fault,
    Machine,
    Ok,
    Result,
)
from flunq.interpreter.protocol import (
    CancelRequested,
    Command,
    EffectCompleted,
    EffectFailed,
    EventReceived,
    Fact,
    LifecycleEvent,
    ResumeRequested,
    Started,
    SuspendRequested,
    TimerFired,
)
from flunq.interpreter.state import ExecutionState, ListFrame

TERMINAL = frozenset({"completed", "faulted", "cancelled"})
WORKFLOW_TIMEOUT = "#timeout"


@dataclass(slots=True)
class Step:
    state: ExecutionState
    commands: list[Command]
    events: list[LifecycleEvent]
    applied: bool  # False: the fact was a duplicate or came too late and changed nothing


def advance(defn: Definition, state: ExecutionState | None, fact: Fact, env: Env | None = None) -> Step:
    """Apply ``fact`` to the execution (``state=None`` only with a ``Started`` fact)."""
    env = env or Env()
    if state is None:
        if not isinstance(fact, Started):
            raise ValueError("an execution starts with a Started fact")
        state = ExecutionState(id=fact.execution_id)
    mc = Machine(defn, state, env, fact.at)
    before = state.status
    try:
        applied = _apply(mc, fact)
    except Exception as exc:  # a bug must fault the execution, never crash the worker
        _fault(mc, problem("runtime", title="Internal Error", detail=f"{type(exc).__name__}: {exc}", instance="/"))
        applied = True
    state.updated_at = fact.at if applied else state.updated_at
    if state.status != before and applied:
        mc.event(lifecycle.workflow_event("status-changed", fact.at, mc.qualified_name, status=state.status))
    return Step(state=state, commands=mc.commands, events=mc.events, applied=applied)


def _apply(mc: Machine, fact: Fact) -> bool:
    state = mc.state
    if isinstance(fact, Started):
        if state.status != "pending":
            return False
        _guard(mc, lambda: _start(mc, fact))
        return True
    if state.status in TERMINAL or state.status == "pending":
        return False
    if isinstance(fact, CancelRequested):
        _cancel(mc, fact)
        return True
    if isinstance(fact, SuspendRequested):
        return _suspend(mc)
    if isinstance(fact, ResumeRequested):
        return _resume(mc)
    if state.status == "suspended":
        if not _addressed(mc, fact) or _deferred_already(state, fact):
            return False
        state.deferred.append(fact)  # type: ignore[arg-type]
        return True
    return _route(mc, fact)


def _deferred_already(state: ExecutionState, fact: Fact) -> bool:
    """A second delivery of an effect result or timer that waits for the resume already.

    (Events are not deduplicated here, as a listener counts every delivery elsewhere too.)
    """
    if isinstance(fact, (EffectCompleted, EffectFailed)):
        return any(getattr(f, "effect_id", None) == fact.effect_id for f in state.deferred)
    if isinstance(fact, TimerFired):
        return any(getattr(f, "timer_id", None) == fact.timer_id for f in state.deferred)
    return False


def _addressed(mc: Machine, fact: Fact) -> bool:
    state = mc.state
    if isinstance(fact, (EffectCompleted, EffectFailed)):
        return fact.effect_id in state.inflight
    if isinstance(fact, TimerFired):
        return fact.timer_id in state.timers
    if isinstance(fact, EventReceived):
        return fact.listener_id in state.listeners
    return False


def _route(mc: Machine, fact: Fact) -> bool:
    state = mc.state
    if not _addressed(mc, fact):
        return False
    if isinstance(fact, (EffectCompleted, EffectFailed)):
        state.inflight.pop(fact.effect_id)
        target = fact.effect_id
    elif isinstance(fact, TimerFired):
        state.timers.pop(fact.timer_id)
        target = fact.timer_id
        if target == WORKFLOW_TIMEOUT:
            _guard(mc, lambda: _workflow_timeout(mc))
            return True
    else:
        assert isinstance(fact, EventReceived)
        target = fact.listener_id
    _guard(mc, lambda: _deliver(mc, target, fact))
    return True


def _deliver(mc: Machine, target: str, fact: Fact) -> Result | None:
    root = mc.state.root
    if root is None:
        return None
    outcome = mc.deliver_list(root, target, fact)
    return None if outcome is NOT_HERE else outcome  # type: ignore[return-value]


def _guard(mc: Machine, step: Any) -> None:
    """Run a step of the workflow and settle its outcome, whatever goes wrong inside."""
    try:
        outcome = step()
    except BudgetExhausted as exc:
        outcome = Fault(
            problem(
                "runtime",
                title="Step Budget Exhausted",
                detail=f"the execution ran more than {mc.env.max_steps} tasks without waiting (last: {exc.args[0]}); "
                "a 'then' loop that never ends?",
                instance=str(exc.args[0]),
            )
        )
    _settle(mc, outcome)


def _start(mc: Machine, fact: Started) -> Result | None:
    state, wf = mc.state, mc.defn.workflow
    state.input = fact.input
    state.started_at = fact.at
    state.parent = fact.parent
    state.status = "running"
    state.context = {}
    doc = wf.document
    mc.event(
        lifecycle.workflow_event(
            "started", fact.at, mc.qualified_name,
            definition={"name": doc.name, "namespace": doc.namespace, "version": doc.version},
        )
    )
    try:
        data = fact.input
        if wf.input is not None:
            if wf.input.schema is not None:
                mc.defn.validate(wf.input.schema, data, "workflow input")
            data = mc.transform(wf.input.from_, data, None, {})
        after = mc.defn.timeout(wf.timeout)
        if after is not None:
            state.timeout = WORKFLOW_TIMEOUT
            mc.start_timer(WORKFLOW_TIMEOUT, mc.duration(after, data, None, {}))
    except WorkflowError as exc:
        return Fault(_at_root(exc.problem))
    except ExpressionError as exc:
        return Fault(exc.problem("/"))
    state.root = ListFrame(id="/do", list_ref="/do", data=data)
    if not mc.defn.lists["/do"]:
        return Ok(data)
    return mc.run_list(state.root)


def _at_root(error: dict[str, Any]) -> dict[str, Any]:
    return {**error, "instance": error.get("instance", "/")}


def _settle(mc: Machine, outcome: Result | None) -> None:
    state = mc.state
    if outcome is None:
        if state.status not in TERMINAL and state.status != "suspended":
            state.status = "running" if state.inflight else "waiting"
        return
    if isinstance(outcome, Fault):
        _fault(mc, outcome.error)
        return
    output = outcome.output
    wf = mc.defn.workflow
    try:
        if wf.output is not None:
            output = mc.transform(wf.output.as_, output, None, {})
            if wf.output.schema is not None:
                mc.defn.validate(wf.output.schema, output, "workflow output")
    except WorkflowError as exc:
        _fault(mc, _at_root(exc.problem))
        return
    except ExpressionError as exc:
        _fault(mc, exc.problem("/output"))
        return
    _close(mc)
    state.status = "completed"
    state.output = output
    mc.event(lifecycle.workflow_event("completed", mc.now, mc.qualified_name, output=output))


def _fault(mc: Machine, error: dict[str, Any]) -> None:
    _close(mc)
    mc.state.status = "faulted"
    mc.state.error = error
    mc.event(lifecycle.workflow_event("faulted", mc.now, mc.qualified_name, error=error))


def _close(mc: Machine) -> None:
    """Drop every frame and everything still in flight (``then: end``, faults, cancel)."""
    state = mc.state
    if state.root is not None and state.root.task is not None:
        mc.abandon(state.root.task)
    mc.release("")
    mc.cancel_timer(state.timeout)
    state.timeout = None
    state.root = None
    state.deferred = []


def _workflow_timeout(mc: Machine) -> Result:
    mc.state.timeout = None
    after = mc.defn.timeout(mc.defn.workflow.timeout)
    detail = f"workflow timed out after {describe_duration(after)}"
    return Fault(problem("timeout", title="Timeout", detail=detail, instance="/"))


def _cancel(mc: Machine, fact: CancelRequested) -> None:
    state = mc.state
    _close(mc)
    state.status = "cancelled"
    mc.event(lifecycle.workflow_event("cancelled", mc.now, mc.qualified_name, reason=fact.reason))


def _suspend(mc: Machine) -> bool:
    if mc.state.status not in ("running", "waiting"):
        return False
    mc.state.status = "suspended"
    mc.event(lifecycle.workflow_event("suspended", mc.now, mc.qualified_name))
    return True


def _resume(mc: Machine) -> bool:
    state = mc.state
    if state.status != "suspended":
        return False
    state.status = "running" if state.inflight else "waiting"
    mc.event(lifecycle.workflow_event("resumed", mc.now, mc.qualified_name))
    deferred, state.deferred = state.deferred, []
    for fact in deferred:
        if state.status in TERMINAL:
            break
        _route(mc, fact)
    if state.status not in TERMINAL:
        _settle(mc, None)
    return True


__all__ = ["End", "Env", "ExecutionState", "Fault", "Ok", "Step", "advance"]
