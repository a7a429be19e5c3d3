"""The step budget: a ``then`` loop that never ends faults instead of hanging the worker."""

from __future__ import annotations

from interpreter_helpers import error_type, run

from flunq.interpreter import Env
from flunq.interpreter.protocol import CancelEffect

FOREVER = """
do:
  - spin:
      set: {x: 1}
      then: spin
"""


def test_a_then_loop_that_never_ends_faults_with_a_clear_runtime_error() -> None:
    d = run(FOREVER, env=Env(max_steps=500))
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("runtime"),
        "status": 500,
        "title": "Step Budget Exhausted",
        "detail": "the execution ran more than 500 tasks without waiting (last: /do/0/spin); a 'then' loop that never ends?",
        "instance": "/do/0/spin",
    }
    assert d.st.root is None
    assert d.st.steps == 501


def test_the_default_budget_stops_an_endless_loop_too() -> None:
    d = run(FOREVER)
    assert d.error is not None
    assert d.error["title"] == "Step Budget Exhausted"
    assert d.st.steps == Env().max_steps + 1


def test_a_long_but_finite_loop_within_the_budget_completes() -> None:
    d = run(
        """
        do:
          - init:
              set: {n: 0}
          - inc:
              set: '${ {n: (.n + 1)} }'
          - again:
              switch:
                - more:
                    when: .n < 300
                    then: inc
        """,
        env=Env(max_steps=1000),
    )
    assert (d.status, d.output) == ("completed", {"n": 300})
    assert d.st.steps == 1 + 300 * 2


def test_budget_fault_releases_work_in_flight_elsewhere() -> None:
    d = run(
        """
        do:
          - f:
              fork:
                branches:
                  - call: {call: http, with: {method: get, endpoint: 'https://example.com/'}}
                  - spin:
                      do:
                        - a:
                            set: {x: 1}
                            then: a
        """,
        env=Env(max_steps=100),
    )
    assert d.status == "faulted"
    assert d.of(CancelEffect) == [CancelEffect(effect_id="/do/0/f/fork/branches/0/call")]
    assert d.st.inflight == {}


def test_skipped_tasks_count_against_the_budget() -> None:
    d = run(
        """
        do:
          - spin:
              if: 'false'
              set: {x: 1}
          - back:
              switch:
                - again:
                    when: 'true'
                    then: spin
        """,
        env=Env(max_steps=50),
    )
    assert d.error is not None and d.error["title"] == "Step Budget Exhausted"


def test_the_budget_counts_tasks_between_waits_not_over_the_whole_execution() -> None:
    d = run(
        """
        do:
          - init:
              set: {n: 0}
          - inc:
              set: '${ {n: (.n + 1)} }'
          - nap:
              wait: {milliseconds: 1}
          - again:
              switch:
                - more:
                    when: .n < 40
                    then: inc
        """,
        env=Env(max_steps=10),
    )
    while d.status == "waiting":
        d.fire(next(iter(d.st.timers)))
    assert (d.status, d.output) == ("completed", {"n": 40})
    assert d.st.steps > 10
