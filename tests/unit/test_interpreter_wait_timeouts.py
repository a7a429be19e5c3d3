"""``wait`` durations and task/workflow ``timeout`` (DSL §9.18, §11, §12)."""

from __future__ import annotations

from interpreter_helpers import Driver, at, definition, error_type, run

from flunq.interpreter.protocol import CancelEffect, CancelTimer, Perform, StartTimer

CALL = "{call: http, with: {method: get, endpoint: 'https://example.com/slow'}}"


def slow(timeout: str) -> str:
    """A flow-mapping HTTP call task with the given ``timeout`` (YAML)."""
    return f"{{timeout: {timeout}, call: http, with: {{method: get, endpoint: 'https://example.com/slow'}}}}"


def wait_timer(body: str, data: object = None) -> Driver:
    return run(f"do:\n  - w:\n      wait: {body}\n", data)


def test_iso_wait_starts_a_timer_and_the_workflow_is_waiting() -> None:
    d = wait_timer("PT1.5S", {"keep": 1})
    assert d.last.commands == [StartTimer(timer_id="/do/0/w", due=at(1.5))]
    assert d.status == "waiting"
    assert d.st.timers == {"/do/0/w": at(1.5)}


def test_wait_output_is_its_input() -> None:
    d = wait_timer("PT1S", {"keep": 1})
    step = d.fire("/do/0/w")
    assert step.commands == []
    assert (d.status, d.output) == ("completed", {"keep": 1})


def test_inline_wait_duration_sums_its_parts() -> None:
    d = wait_timer("{minutes: 1, seconds: 30, milliseconds: 250}")
    assert d.last.commands == [StartTimer(timer_id="/do/0/w", due=at(90.25))]


def test_iso_wait_with_days_and_hours() -> None:
    d = wait_timer("P1DT2H")
    assert d.last.commands == [StartTimer(timer_id="/do/0/w", due=at(86400 + 7200))]


def test_expression_wait_duration() -> None:
    d = wait_timer("'${ .delay }'", {"delay": "PT3S"})
    assert d.last.commands == [StartTimer(timer_id="/do/0/w", due=at(3))]


def test_expression_wait_giving_a_number_is_an_expression_error() -> None:
    d = wait_timer("'${ .delay }'", {"delay": 5})
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("expression"),
        "status": 400,
        "title": "Expression Error",
        "detail": "a duration expression must give an ISO 8601 string, got 5",
        "instance": "/do/0/w",
    }


def test_expression_wait_giving_an_invalid_duration_is_an_expression_error() -> None:
    d = wait_timer("'${ .delay }'", {"delay": "soon"})
    assert d.error is not None
    assert d.error["type"] == error_type("expression")
    assert d.error["detail"].startswith("invalid duration 'soon'")


def test_a_timer_of_another_execution_step_is_ignored() -> None:
    d = wait_timer("PT1S")
    step = d.fire("/do/0/other")
    assert (step.applied, step.commands, step.events) == (False, [], [])
    assert d.status == "waiting"


def test_task_timeout_faults_with_a_timeout_error_and_cancels_the_effect() -> None:
    d = run(f"do:\n  - slow: {slow('{after: PT2S}')}\n")
    assert d.last.commands[0] == StartTimer(timer_id="/do/0/slow#timeout", due=at(2))
    assert isinstance(d.last.commands[1], Perform)
    step = d.fire("/do/0/slow#timeout")
    assert step.commands == [CancelEffect(effect_id="/do/0/slow")]
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("timeout"),
        "status": 408,
        "title": "Timeout",
        "detail": "task timed out after PT2S",
        "instance": "/do/0/slow",
    }
    late = d.complete("/do/0/slow", "late")
    assert late.applied is False


def test_referenced_task_timeout() -> None:
    d = run(
        f"""
        use:
          timeouts:
            short:
              after: PT4S
        do:
          - slow: {slow("short")}
        """
    )
    assert d.of(StartTimer) == [StartTimer(timer_id="/do/0/slow#timeout", due=at(4))]
    d.fire("/do/0/slow#timeout")
    assert d.error is not None and d.error["detail"] == "task timed out after PT4S"


def test_task_timeout_with_an_expression_duration() -> None:
    d = run(
        "do:\n  - slow: " + slow("{after: '${ .limit }'}") + "\n",
        {"limit": "PT7S"},
    )
    assert d.of(StartTimer) == [StartTimer(timer_id="/do/0/slow#timeout", due=at(7))]


def test_timeout_timer_is_cancelled_when_the_task_finishes_in_time() -> None:
    d = run(f"do:\n  - slow: {slow('{after: PT2S}')}\n")
    step = d.complete("/do/0/slow", {"ok": 1})
    assert step.commands == [CancelTimer(timer_id="/do/0/slow#timeout")]
    assert d.st.timers == {}
    assert d.fire("/do/0/slow#timeout", jump=False).applied is False


def test_task_timeout_is_caught_by_an_enclosing_try() -> None:
    d = run(
        f"""
        do:
          - guarded:
              try:
                - slow: {slow("{after: PT1S}")}
              catch:
                errors:
                  with: {{type: 'https://serverlessworkflow.io/spec/1.0.0/errors/timeout'}}
                do:
                  - fallback:
                      set: '${{ {{timedOut: $error.instance, status: $error.status}} }}'
        """
    )
    d.fire("/do/0/guarded/try[0]/0/slow#timeout")
    assert (d.status, d.output) == ("completed", {"timedOut": "/do/0/guarded/try/0/slow", "status": 408})


def test_timeout_of_a_composite_task_cancels_every_effect_and_timer_beneath_it() -> None:
    defn = definition(
        f"""
        do:
          - both:
              timeout: {{after: PT10S}}
              fork:
                branches:
                  - a: {CALL}
                  - b:
                      do:
                        - pause:
                            wait: PT1M
        """
    )
    d = Driver(defn)
    d.start()
    step = d.fire("/do/0/both#timeout")
    assert step.commands == [
        CancelEffect(effect_id="/do/0/both/fork/branches/0/a"),
        CancelTimer(timer_id="/do/0/both/fork/branches/1/b/do/0/pause"),
    ]
    assert d.st.inflight == {} and d.st.timers == {}
    assert d.error is not None and d.error["instance"] == "/do/0/both"


def test_workflow_timeout_faults_the_workflow_and_releases_everything() -> None:
    d = run(
        f"""
        timeout:
          after: {{seconds: 30}}
        do:
          - pair:
              fork:
                branches:
                  - a: {CALL}
                  - b:
                      wait: PT1H
        """
    )
    assert d.of(StartTimer)[0] == StartTimer(timer_id="#timeout", due=at(30))
    step = d.fire("#timeout")
    assert step.commands == [
        CancelEffect(effect_id="/do/0/pair/fork/branches/0/a"),
        CancelTimer(timer_id="/do/0/pair/fork/branches/1/b"),
    ]
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("timeout"),
        "status": 408,
        "title": "Timeout",
        "detail": 'workflow timed out after {"seconds":30}',
        "instance": "/",
    }
    assert d.st.root is None and d.st.inflight == {} and d.st.timers == {}


def test_referenced_workflow_timeout() -> None:
    d = run(
        """
        use:
          timeouts:
            day:
              after: P1D
        timeout: day
        do:
          - w:
              wait: PT1S
        """
    )
    assert d.of(StartTimer) == [
        StartTimer(timer_id="#timeout", due=at(86400)),
        StartTimer(timer_id="/do/0/w", due=at(1)),
    ]


def test_workflow_timeout_timer_is_cancelled_on_completion() -> None:
    d = run("timeout: {after: PT1M}\ndo:\n  - w:\n      wait: PT1S\n")
    step = d.fire("/do/0/w")
    assert step.commands == [CancelTimer(timer_id="#timeout")]
    assert d.status == "completed"
