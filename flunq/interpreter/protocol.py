"""What goes into the interpreter (facts) and what comes out (commands, lifecycle events).

All of it is plain msgspec data, so it can be journaled, sent on a bus and replayed. Times
are ISO 8601 UTC strings (``2026-01-01T12:00:00.000000Z``) and come *in* with the facts:
the interpreter never reads a clock, so replaying a journal gives the same result.

Effect ids name one attempt of one effect deterministically: the task's frame path, e.g.
``/do/1/loop/do[3]/0/fetch`` (iteration 3 of ``loop``) or ``/do/0/t/try[2]/0/get`` (attempt
2 of a ``try``); :mod:`flunq.interpreter.state` describes the whole scheme. A result whose
effect id is not in flight any more is ignored, so a duplicate or late delivery can never be
applied twice.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Fact(msgspec.Struct, tag_field="fact", kw_only=True, omit_defaults=True):
    """Something that happened to an execution. ``at`` is when (UTC, ISO 8601)."""

    at: str


class Started(Fact, tag="started", kw_only=True):
    """The execution was created with this raw workflow input."""

    execution_id: str
    input: Any = None
    parent: str | None = None  # effect id in the parent, for run: workflow


class EffectCompleted(Fact, tag="effect.completed", kw_only=True):
    effect_id: str
    result: Any = None


class EffectFailed(Fact, tag="effect.failed", kw_only=True):
    """The effect failed; ``error`` is an RFC 7807 problem object (type, status, title...)."""

    effect_id: str
    error: dict[str, Any]


class TimerFired(Fact, tag="timer.fired", kw_only=True):
    timer_id: str


class EventReceived(Fact, tag="event.received", kw_only=True):
    """A CloudEvent delivered to one of the execution's listeners."""

    listener_id: str
    event: dict[str, Any]


class CancelRequested(Fact, tag="cancel", kw_only=True):
    reason: str | None = None


class SuspendRequested(Fact, tag="suspend", kw_only=True):
    pass


class ResumeRequested(Fact, tag="resume", kw_only=True):
    pass


AnyFact = (
    Started | EffectCompleted | EffectFailed | TimerFired | EventReceived
    | CancelRequested | SuspendRequested | ResumeRequested
)


class Command(msgspec.Struct, tag_field="command", kw_only=True, omit_defaults=True):
    """Something the runtime must do after committing the step that produced it."""


class Perform(Command, tag="perform", kw_only=True):
    """Run one side effect on the executor and report back with ``effect_id``.

    ``kind`` selects the effect handler (``http``, ``openapi``, ``grpc``, ``asyncapi``,
    ``a2a``, ``mcp``, ``shell``, ``script``, ``container``); ``args`` are fully evaluated
    (no expression is left for the executor to evaluate).
    """

    effect_id: str
    kind: str
    args: dict[str, Any]
    task: str = ""  # the task reference, for logs and errors


class CancelEffect(Command, tag="cancel-effect", kw_only=True):
    """Best effort: the result of this effect is not wanted any more."""

    effect_id: str


class StartTimer(Command, tag="timer.start", kw_only=True):
    timer_id: str
    due: str  # ISO 8601 UTC


class CancelTimer(Command, tag="timer.cancel", kw_only=True):
    timer_id: str


class Emit(Command, tag="emit", kw_only=True):
    """Publish a CloudEvent (structured JSON form)."""

    event: dict[str, Any]


class Listen(Command, tag="listen", kw_only=True):
    """Deliver CloudEvents matching ``filters`` to this execution as ``EventReceived``.

    Each filter is ``{"with": {attr: value-or-regex}, "correlate": {key: {"from": expr}},
    "expect": {key: value}}``: ``expect`` holds the correlation values already known (a
    constant or evaluated ``expect`` of the DSL); a key is absent from it when the first
    extracted value must become the expectation (the listening task learns it).
    """

    listener_id: str
    filters: list[dict[str, Any]]


class Unlisten(Command, tag="unlisten", kw_only=True):
    listener_id: str


class StartWorkflow(Command, tag="workflow.start", kw_only=True):
    """Start a child execution (``run: workflow``); its end is reported as an effect result."""

    effect_id: str
    namespace: str
    name: str
    version: str
    input: Any = None
    wait: bool = True


AnyCommand = Perform | CancelEffect | StartTimer | CancelTimer | Emit | Listen | Unlisten | StartWorkflow


class LifecycleEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One of the spec's lifecycle CloudEvents, before the runtime gives it an id and source.

    ``type`` is the full CloudEvent type (``io.serverlessworkflow.task.completed.v1``).
    """

    type: str
    time: str
    data: dict[str, Any]
