"""``try``/``catch``: run the try list; handle the errors the catch accepts.

An error is caught when it passes ``errors.with`` (``type`` of the older
``https://serverlessworkflow.io/dsl/errors/types/<kind>`` form matches the spec's
``.../spec/1.0.0/errors/<kind>``), then ``when`` and ``exceptWhen`` (evaluated with the
error as ``.`` and as ``$<as>``). A caught error is retried first, per the retry policy,
re-running the whole try list with the task's input after the policy's delay. When no
retry is allowed (any more), ``catch.do`` runs with the error bound and its output is the
task's; without ``catch.do``, the error is swallowed (output: the task's input) unless a
retry policy was exhausted, in which case the last error propagates.

Keeps: ``frame.pos`` = attempt number (0 first), ``frame.phase`` = ``try`` | ``retry`` |
``catch``, ``frame.error`` = the error being handled, ``frame.first_at`` = first attempt.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import ERROR_TYPE_PREFIX, problem
from flunq.interpreter.machine import Fault, Machine, Ok, Result, truthy
from flunq.interpreter.protocol import TimerFired
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf
from flunq.interpreter.times import to_epoch

LEGACY_TYPE_PREFIX = "https://serverlessworkflow.io/dsl/errors/types/"


def same_type(wanted: str, actual: Any) -> bool:
    if wanted == actual:
        return True
    if not isinstance(actual, str):
        return False
    for old, new in ((LEGACY_TYPE_PREFIX, ERROR_TYPE_PREFIX), (ERROR_TYPE_PREFIX, LEGACY_TYPE_PREFIX)):
        if wanted.startswith(old) and actual == new + wanted[len(old):]:
            return True
    return False


def filter_accepts(errors: m.CatchErrors | None, error: dict[str, Any]) -> bool:
    wanted = errors.with_ if errors is not None else None
    if wanted is None:
        return True
    if wanted.type is not None and not same_type(wanted.type, error.get("type")):
        return False
    pairs = (("status", "status"), ("instance", "instance"), ("title", "title"), ("details", "detail"))
    return all(getattr(wanted, a) is None or getattr(wanted, a) == error.get(k) for a, k in pairs)


class TryHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        frame.pos = 0
        frame.first_at = mc.now
        return self._attempt(mc, frame, item, vars)

    def _attempt(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        frame.phase = "try"
        frame.effect = None
        lst = ListFrame(id=f"{frame.id}/try[{frame.pos}]", list_ref=item.ref + "/try", data=frame.input, vars=vars)
        if not mc.defn.lists[lst.list_ref]:
            return Ok(frame.input)  # before arming the attempt timer, which nothing would cancel
        retry = mc.defn.retry(item.task.catch.retry)
        limit = retry.limit.attempt if retry is not None and retry.limit is not None else None
        if limit is not None and limit.duration is not None:
            mc.start_timer(f"{frame.id}#attempt{frame.pos}", mc.duration(limit.duration, frame.input, frame, vars))
        outcome = mc.start_child(frame, lst)
        return None if outcome is None else self.child(mc, frame, item, vars, lst, outcome)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        if frame.phase == "catch":
            return Ok(result.output) if isinstance(result, Ok) else result
        mc.cancel_timer(f"{frame.id}#attempt{frame.pos}")
        if not isinstance(result, Fault):
            return Ok(result.output) if isinstance(result, Ok) else result
        return self._caught(mc, frame, item, vars, result.error)

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None:
        assert isinstance(fact, TimerFired)
        if fact.timer_id.startswith(f"{frame.id}#retry"):
            frame.pos += 1
            mc.task_event("retried", frame)
            return self._attempt(mc, frame, item, vars)
        # The attempt's own time limit: abandon it and handle a timeout error.
        mc.abandon_children(frame)
        error = problem("timeout", title="Timeout", detail="retry attempt timed out", instance=item.ref)
        return self._caught(mc, frame, item, vars, error)

    def _caught(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
                error: dict[str, Any]) -> Result | None:
        catch = item.task.catch
        scoped = {**vars, catch.as_ or "error": error}
        if not filter_accepts(catch.errors, error):
            return Fault(error)
        if catch.when is not None and not truthy(mc.field(catch.when, error, frame, scoped)):
            return Fault(error)
        if catch.except_when is not None and truthy(mc.field(catch.except_when, error, frame, scoped)):
            return Fault(error)
        retry = mc.defn.retry(catch.retry)
        if retry is not None:
            delay = self._retry_delay(mc, frame, retry, error, scoped)
            if delay is not None:
                frame.phase = "retry"
                frame.error = error
                timer = f"{frame.id}#retry{frame.pos + 1}"
                mc.start_timer(timer, delay)
                frame.effect = timer
                return None
            if not catch.do:
                return Fault(error)
        if not catch.do:
            return Ok(frame.input)
        frame.phase = "catch"
        frame.error = error
        lst = ListFrame(
            id=f"{frame.id}/catch/do[{frame.pos}]", list_ref=item.ref + "/catch/do",
            data=frame.input, vars=scoped,
        )
        outcome = mc.start_child(frame, lst)
        return None if outcome is None else self.child(mc, frame, item, vars, lst, outcome)

    def _retry_delay(self, mc: Machine, frame: TaskFrame, retry: m.RetryPolicy,
                     error: dict[str, Any], scoped: dict[str, Any]) -> float | None:
        """Seconds to wait before the next attempt, or None when no retry is allowed."""
        if retry.when is not None and not truthy(mc.field(retry.when, error, frame, scoped)):
            return None
        if retry.except_when is not None and truthy(mc.field(retry.except_when, error, frame, scoped)):
            return None
        number = frame.pos + 1  # this would be retry number `number`
        limit = retry.limit
        count = limit.attempt.count if limit is not None and limit.attempt is not None else None
        if count is not None and number > count:
            return None
        base = mc.duration(retry.delay, frame.input, frame, scoped) if retry.delay is not None else 0.0
        kind = retry.backoff.kind if retry.backoff is not None else "constant"
        delay = base * number if kind == "linear" else base * 2 ** (number - 1) if kind == "exponential" else base
        if retry.jitter is not None:
            low = mc.duration(retry.jitter.from_, frame.input, frame, scoped)
            high = mc.duration(retry.jitter.to, frame.input, frame, scoped)
            delay += low + (high - low) * mc.random_for(f"{frame.id}#jitter{number}")
        if limit is not None and limit.duration is not None:
            budget = mc.duration(limit.duration, frame.input, frame, scoped)
            if to_epoch(mc.now) + delay - to_epoch(frame.first_at) > budget:
                return None
        return delay
