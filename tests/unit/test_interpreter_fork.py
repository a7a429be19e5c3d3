"""``fork``: concurrent branches, all (ordered outputs) or compete (first wins)."""

from __future__ import annotations

from interpreter_helpers import Driver, definition, error_type, run

from flunq.interpreter.protocol import CancelEffect, CancelTimer, Perform, StartTimer

A = "/do/0/f/fork/branches/0/a"
B = "/do/0/f/fork/branches/1/b"


def fork(compete: bool = False, a: str = "", b: str = "") -> Driver:
    """A fork of two branches given as YAML flow mappings (default: one HTTP call each)."""
    a = a or "{call: http, with: {method: get, endpoint: 'https://example.com/a'}}"
    b = b or "{call: http, with: {method: get, endpoint: 'https://example.com/b'}}"
    defn = definition(
        f"""
        do:
          - f:
              input:
                from: '${{ {{seed: .seed}} }}'
              fork:
                compete: {str(compete).lower()}
                branches:
                  - a: {a}
                  - b: {b}
        """
    )
    d = Driver(defn)
    d.start({"seed": 1, "noise": True})
    return d


def test_all_branches_start_in_the_same_step() -> None:
    d = fork()
    assert [(c.effect_id, c.args["uri"]) for c in d.performs(d.last)] == [
        (A, "https://example.com/a"),
        (B, "https://example.com/b"),
    ]
    assert d.status == "running"


def test_outputs_are_in_declaration_order_whatever_the_completion_order() -> None:
    d = fork()
    assert d.complete(B, "from b").commands == []
    assert d.status == "running"
    d.complete(A, "from a")
    assert (d.status, d.output) == ("completed", ["from a", "from b"])


def test_each_branch_receives_the_forks_transformed_input() -> None:
    d = run(
        """
        do:
          - f:
              input:
                from: '${ {seed: .seed} }'
              fork:
                branches:
                  - a:
                      set: '${ . + {branch: "a"} }'
                  - b:
                      set: '${ . + {branch: "b"} }'
        """,
        {"seed": 7, "noise": 0},
    )
    assert d.output == [{"seed": 7, "branch": "a"}, {"seed": 7, "branch": "b"}]


def test_a_branch_fault_faults_the_fork_and_cancels_the_other_branches() -> None:
    d = fork(a="{wait: PT1M}")
    assert d.of(StartTimer, d.last) == [StartTimer(timer_id=A, due="2026-01-01T00:01:00.000000Z")]
    error = {"type": error_type("communication"), "status": 502, "title": "Bad Gateway"}
    step = d.fail(B, error)
    assert step.commands == [CancelTimer(timer_id=A)]
    assert d.status == "faulted"
    assert d.error == {**error, "instance": B}
    assert d.task_events("cancelled") == [A]
    assert d.fire(A).applied is False


def test_compete_first_branch_to_finish_wins_and_the_other_is_cancelled() -> None:
    d = fork(compete=True)
    step = d.complete(B, {"winner": "b"})
    assert step.commands == [CancelEffect(effect_id=A)]
    assert (d.status, d.output) == ("completed", {"winner": "b"})
    assert d.task_events("cancelled") == [A]
    late = d.complete(A, {"winner": "a"})
    assert (late.applied, late.commands, late.events) == (False, [], [])
    assert d.output == {"winner": "b"}


def test_compete_a_fault_does_not_end_the_race() -> None:
    d = fork(compete=True)
    d.fail(A, {"type": error_type("communication"), "status": 500})
    assert d.status == "running"
    d.complete(B, "b wins")
    assert (d.status, d.output) == ("completed", "b wins")


def test_compete_faults_when_every_branch_faults_with_the_first_error() -> None:
    d = fork(compete=True)
    first = {"type": error_type("communication"), "status": 500, "title": "first"}
    d.fail(B, first)
    d.fail(A, {"type": error_type("communication"), "status": 503, "title": "second"})
    assert d.status == "faulted"
    assert d.error == {**first, "instance": B}


def test_compete_with_a_pure_branch_finishes_at_once_and_never_starts_the_rest() -> None:
    d = fork(compete=True, a="{set: {winner: a}}")
    assert d.performs() == []
    assert (d.status, d.output) == ("completed", {"winner": "a"})


def test_end_inside_a_branch_ends_the_workflow_and_cancels_the_others() -> None:
    d = fork(b="{set: {ended: true}, then: end}")
    assert [c.effect_id for c in d.performs()] == [A]
    assert d.of(CancelEffect) == [CancelEffect(effect_id=A)]
    assert (d.status, d.output) == ("completed", {"ended": True})


def test_end_inside_a_waiting_branch_ends_the_workflow_when_it_arrives() -> None:
    defn = definition(
        """
        do:
          - f:
              fork:
                branches:
                  - a:
                      do:
                        - get:
                            call: http
                            with: {method: get, endpoint: https://example.com/a}
                        - stop:
                            set: '${ {stopped: .} }'
                            then: end
                  - b:
                      wait: PT1H
          - after:
              set: {never: true}
        """
    )
    d = Driver(defn)
    d.start()
    step = d.complete("/do/0/f/fork/branches/0/a/do/0/get", 1)
    assert step.commands == [CancelTimer(timer_id="/do/0/f/fork/branches/1/b")]
    assert (d.status, d.output) == ("completed", {"stopped": 1})


def test_exit_in_a_branch_gives_that_branchs_output() -> None:
    d = run(
        """
        do:
          - f:
              fork:
                branches:
                  - a:
                      set: {a: 1}
                      then: exit
                  - b:
                      set: {b: 2}
        """
    )
    assert d.output == [{"a": 1}, {"b": 2}]


def test_branch_commands_are_performs_with_the_branch_task_reference() -> None:
    d = fork()
    assert [c.task for c in d.performs()] == [A, B]
    assert all(isinstance(c, Perform) and c.kind == "http" for c in d.performs())
