"""Suspend, resume, cancel; facts that come twice, too late or out of place."""

from __future__ import annotations

import pytest
from interpreter_helpers import T0, Driver, definition, event_types, run

from flunq.interpreter import ExecutionState, advance
from flunq.interpreter.protocol import (
    CancelEffect,
    CancelTimer,
    EffectCompleted,
    Started,
    TimerFired,
    Unlisten,
)

PAIR = """
do:
  - f:
      fork:
        branches:
          - a: {call: http, with: {method: get, endpoint: 'https://example.com/a'}}
          - b: {call: http, with: {method: get, endpoint: 'https://example.com/b'}}
  - after:
      set: '${ {both: .} }'
"""
A = "/do/0/f/fork/branches/0/a"
B = "/do/0/f/fork/branches/1/b"


def test_suspend_changes_the_status_and_emits_suspended() -> None:
    d = run(PAIR)
    step = d.suspend()
    assert (step.applied, step.commands, d.status) == (True, [], "suspended")
    assert event_types(step.events) == ["workflow.suspended", "workflow.status-changed"]
    assert step.events[0].data == {"name": "wf-exec-1.test", "suspendedAt": T0}


def test_facts_while_suspended_are_deferred_and_applied_in_order_on_resume() -> None:
    d = run(PAIR)
    d.suspend()
    first = d.complete(B, "b")
    second = d.complete(A, "a")
    assert (first.applied, first.commands, first.events) == (True, [], [])
    assert (second.applied, d.status) == (True, "suspended")
    assert [f.effect_id for f in d.st.deferred] == [B, A]
    assert d.output is None
    step = d.resume()
    assert (d.status, d.output) == ("completed", {"both": ["a", "b"]})
    assert event_types(step.events)[0] == "workflow.resumed"
    assert d.st.deferred == []


def test_resume_without_deferred_facts_goes_back_to_the_previous_kind_of_status() -> None:
    d = run(PAIR)
    d.suspend()
    d.resume()
    assert d.status == "running"
    w = run("do:\n  - w:\n      wait: PT1S\n")
    w.suspend()
    step = w.resume()
    assert w.status == "waiting"
    assert step.events[-1].data["status"] == "waiting"


def test_timer_fired_while_suspended_is_applied_on_resume() -> None:
    d = run("do:\n  - w:\n      wait: PT1S\n  - s:\n      set: {done: true}\n")
    d.suspend()
    d.fire("/do/0/w")
    assert d.status == "suspended"
    d.resume()
    assert (d.status, d.output) == ("completed", {"done": True})


def test_a_duplicate_result_while_suspended_is_deferred_once() -> None:
    d = run(PAIR)
    d.suspend()
    assert d.complete(A, "a").applied is True
    again = d.complete(A, "a again")
    assert (again.applied, again.commands, again.events) == (False, [], [])
    assert [f.effect_id for f in d.st.deferred] == [A]
    d.resume()
    d.complete(B, "b")
    assert d.output == {"both": ["a", "b"]}


def test_a_duplicate_timer_while_suspended_is_deferred_once() -> None:
    d = run("do:\n  - w:\n      wait: PT1S\n")
    d.suspend()
    d.fire("/do/0/w")
    assert d.fire("/do/0/w").applied is False
    assert len(d.st.deferred) == 1


def test_unaddressed_facts_while_suspended_are_not_deferred() -> None:
    d = run(PAIR)
    d.suspend()
    step = d.complete("/do/9/x", 1)
    assert (step.applied, d.st.deferred) == (False, [])


def test_suspend_and_resume_are_idempotent() -> None:
    d = run(PAIR)
    assert d.resume().applied is False
    d.suspend()
    again = d.suspend()
    assert (again.applied, again.events) == (False, [])
    d.resume()
    assert d.resume().applied is False


def test_cancel_releases_every_effect_timer_and_listener() -> None:
    d = run(
        """
        do:
          - f:
              fork:
                branches:
                  - a: {call: http, with: {method: get, endpoint: 'https://example.com/a'}}
                  - b: {wait: PT1H}
                  - c: {listen: {to: {any: []}}}
        """
    )
    step = d.cancel("operator said so")
    assert step.commands == [
        CancelEffect(effect_id="/do/0/f/fork/branches/0/a"),
        CancelTimer(timer_id="/do/0/f/fork/branches/1/b"),
        Unlisten(listener_id="/do/0/f/fork/branches/2/c"),
    ]
    assert d.status == "cancelled"
    assert (d.st.inflight, d.st.timers, d.st.listeners, d.st.root) == ({}, {}, {}, None)
    assert event_types(step.events) == [
        "task.cancelled", "task.cancelled", "task.cancelled", "task.cancelled",
        "workflow.cancelled", "workflow.status-changed",
    ]
    # Innermost first: each task is cancelled after everything it was running.
    assert [e.data["task"] for e in step.events[:4]] == [
        "/do/0/f/fork/branches/0/a",
        "/do/0/f/fork/branches/1/b",
        "/do/0/f/fork/branches/2/c",
        "/do/0/f",
    ]
    assert step.events[4].data == {"name": "wf-exec-1.test", "cancelledAt": T0, "reason": "operator said so"}


def test_cancel_while_suspended_drops_deferred_facts() -> None:
    d = run(PAIR)
    d.suspend()
    d.complete(A, "a")
    d.cancel()
    assert (d.status, d.st.deferred) == ("cancelled", [])


def test_nothing_applies_after_the_end() -> None:
    d = run(PAIR)
    d.cancel()
    for step in (d.complete(A, 1), d.suspend(), d.resume(), d.cancel(), d.fire("/do/0/x")):
        assert (step.applied, step.commands, step.events) == (False, [], [])
    assert d.status == "cancelled"


def test_cancel_after_completion_is_not_applied() -> None:
    d = run("do:\n  - s:\n      set: {a: 1}\n")
    step = d.cancel()
    assert (step.applied, d.status, d.output) == (False, "completed", {"a": 1})


def test_a_second_started_fact_is_not_applied() -> None:
    d = run("do:\n  - w:\n      wait: PT1S\n")
    before = d.st.updated_at
    d.tick(5)
    step = d.start({"other": True})
    assert (step.applied, step.commands, step.events) == (False, [], [])
    assert (d.st.input, d.st.updated_at) == (None, before)


def test_duplicate_effect_result_changes_nothing() -> None:
    d = run(PAIR)
    d.complete(A, "a")
    snapshot = d.st.inflight.copy()
    d.tick(1)
    dup = d.complete(A, "again")
    assert (dup.applied, dup.commands, dup.events) == (False, [], [])
    assert d.st.inflight == snapshot
    assert d.st.updated_at == T0


def test_an_execution_must_start_with_a_started_fact() -> None:
    defn = definition("do:\n  - s:\n      set: {a: 1}\n")
    with pytest.raises(ValueError, match="starts with a Started fact"):
        advance(defn, None, TimerFired(at=T0, timer_id="x"))


def test_facts_before_start_are_not_applied() -> None:
    defn = definition("do:\n  - s:\n      set: {a: 1}\n")
    step = advance(defn, ExecutionState(id="e"), EffectCompleted(at=T0, effect_id="/do/0/s"))
    assert (step.applied, step.state.status) == (False, "pending")
    step = advance(defn, step.state, Started(at=T0, execution_id="e"))
    assert step.state.status == "completed"


def test_parent_effect_id_is_kept_for_child_workflows() -> None:
    d = Driver(definition("do:\n  - s:\n      set: {a: 1}\n"))
    d.start({"x": 1}, parent="/do/0/r")
    assert d.st.parent == "/do/0/r"
