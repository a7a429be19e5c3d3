"""Replaying the same facts gives the same steps; snapshots are a faithful cache."""

from __future__ import annotations

from typing import Any

import msgspec
from interpreter_helpers import T0, Driver, at, command_names, definition, drive, failed

from flunq.interpreter import advance, dump_state, load_state
from flunq.interpreter.protocol import (
    EffectCompleted,
    EffectFailed,
    EventReceived,
    Fact,
    Started,
    TimerFired,
)

BODY = """
do:
  - announce:
      emit:
        event:
          with: {source: 'https://example.com', type: started, data: '${ . }'}
  - both:
      fork:
        branches:
          - fetch:
              try:
                - get:
                    call: http
                    with: {method: get, endpoint: 'https://example.com/a'}
              catch:
                retry:
                  delay: PT1S
                  jitter: {from: PT0S, to: PT2S}
                  limit: {attempt: {count: 2}}
          - hear:
              listen:
                to:
                  one:
                    with: {type: go}
  - loop:
      for:
        in: '[1, 2]'
      do:
        - pause:
            wait: '${ "PT\\($item)S" }'
"""

FAILURE = {"type": "https://serverlessworkflow.io/spec/1.0.0/errors/communication", "status": 503}
GET0 = "/do/1/both/fork/branches/0/fetch/try[0]/0/get"
GET1 = "/do/1/both/fork/branches/0/fetch/try[1]/0/get"
LISTENER = "/do/1/both/fork/branches/1/hear"


def journal(retry_due: str) -> list[Fact]:
    """The facts of one run; the retry timer fires at ``retry_due`` (depends on jitter)."""
    return [
        Started(at=T0, execution_id="exec-1", input={"n": 1}),
        EffectFailed(at=at(0.5), effect_id=GET0, error=FAILURE),
        EventReceived(at=at(1), listener_id=LISTENER, event={"type": "go", "data": {"go": True}}),
        TimerFired(at=retry_due, timer_id="/do/1/both/fork/branches/0/fetch#retry1"),
        EffectCompleted(at=at(5), effect_id=GET1, result={"a": 1}),
        TimerFired(at=at(6), timer_id="/do/2/loop/do[0]/0/pause"),
        TimerFired(at=at(8), timer_id="/do/2/loop/do[1]/0/pause"),
    ]


def replay(facts: list[Fact], snapshot_after: int | None = None) -> tuple[list[Any], bytes]:
    """Feed ``facts`` from scratch; optionally dump and reload the state after fact k.

    Returns every step as plain data (commands, events, applied) and the final state."""
    defn = definition(BODY)
    state = None
    steps = []
    for k, fact in enumerate(facts):
        step = advance(defn, state, fact)
        state = step.state
        steps.append(msgspec.to_builtins((step.commands, step.events, step.applied)))
        if snapshot_after == k:
            state = load_state(dump_state(state))
    assert state is not None
    return steps, dump_state(state)


def retry_due() -> str:
    d = Driver(definition(BODY))
    d.start({"n": 1})
    d.tick(0.5)
    d.fail(GET0, FAILURE)
    return d.st.timers["/do/1/both/fork/branches/0/fetch#retry1"]


def test_the_run_reaches_the_end() -> None:
    facts = journal(retry_due())
    defn = definition(BODY)
    state = None
    for fact in facts:
        step = advance(defn, state, fact)
        assert step.applied, fact
        state = step.state
    assert state is not None
    assert (state.status, state.output) == ("completed", [{"a": 1}, [{"go": True}]])


def test_same_facts_give_the_same_steps_and_state() -> None:
    facts = journal(retry_due())
    assert replay(facts) == replay(facts)


def test_snapshot_after_any_fact_gives_the_same_result() -> None:
    facts = journal(retry_due())
    expected = replay(facts)
    for k in range(len(facts)):
        assert replay(facts, snapshot_after=k) == expected, f"snapshot after fact {k}"


def test_jittered_retry_delay_is_a_pure_function_of_the_execution() -> None:
    due = retry_due()
    assert due == retry_due()
    assert at(1.5) <= due <= at(3.5)


def test_state_round_trips_through_dump_and_load() -> None:
    d = Driver(definition(BODY))
    d.start({"n": 1})
    restored = load_state(dump_state(d.st))
    assert restored == d.st
    assert dump_state(restored) == dump_state(d.st)


def test_executions_sharing_one_definition_do_not_disturb_each_other() -> None:
    facts = journal(retry_due())
    alone = replay(facts)[1]
    defn = definition(BODY)
    states: dict[int, Any] = {0: None, 1: None}
    for fact in facts:  # two executions, interleaved, on the same Definition object
        for n in (0, 1):
            states[n] = advance(defn, states[n], fact).state
    assert dump_state(states[0]) == dump_state(states[1]) == alone


def test_lifecycle_event_ids_are_left_to_the_runtime() -> None:
    d = Driver(definition(BODY))
    d.start({"n": 1})
    assert all(set(msgspec.to_builtins(e)) == {"type", "time", "data"} for e in d.events)


def test_drive_answers_effects_and_fires_timers_in_due_order_to_the_end() -> None:
    attempts: list[str] = []

    def respond(cmd: Any) -> Any:
        attempts.append(cmd.effect_id)
        return failed({"type": "https://example.com/e", "status": 503}) if len(attempts) < 2 else {"a": 1}

    d = drive(definition(BODY), {"n": 1}, respond)
    assert d.status == "waiting"  # the listen branch never hears anything: drive stops there
    assert attempts == [GET0, GET1]
    assert command_names(d.commands)[:3] == ["emit", "perform:http", "listen"]
