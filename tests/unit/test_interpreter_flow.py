"""Flow directives (DSL §6): continue, exit, end, named jumps (incl. backwards loops)."""

from __future__ import annotations

import pytest
from interpreter_helpers import Driver, definition, error_type, run

from flunq.errors import DefinitionError


def test_tasks_run_in_declaration_order_and_chain_their_outputs() -> None:
    d = run(
        """
        do:
          - one:
              set: {n: 1}
          - two:
              set: '${ {n: (.n + 1)} }'
          - three:
              set: '${ {n: (.n * 10)} }'
        """
    )
    assert d.status == "completed"
    assert d.output == {"n": 20}
    assert d.task_events("completed") == ["/do/0/one", "/do/1/two", "/do/2/three"]


def test_empty_workflow_do_returns_its_input() -> None:
    d = run("do: []", {"a": 1})
    assert (d.status, d.output) == ("completed", {"a": 1})


def test_then_end_completes_the_workflow_with_that_tasks_output() -> None:
    d = run(
        """
        do:
          - first:
              set: {stage: first}
              then: end
          - never:
              set: {stage: never}
        """
    )
    assert (d.status, d.output) == ("completed", {"stage": "first"})
    assert d.task_events("started") == ["/do/0/first"]


def test_then_exit_at_top_level_ends_the_workflow() -> None:
    d = run(
        """
        do:
          - first:
              set: {stage: first}
              then: exit
          - never:
              set: {stage: never}
        """
    )
    assert (d.status, d.output) == ("completed", {"stage": "first"})


def test_named_jump_forward_skips_tasks_in_between() -> None:
    d = run(
        """
        do:
          - a:
              set: {visited: [a]}
              then: c
          - b:
              set: '${ .visited += ["b"] }'
          - c:
              set: '${ .visited += ["c"] }'
        """
    )
    assert d.output == {"visited": ["a", "c"]}


def test_backwards_jump_loops_until_a_switch_leaves() -> None:
    d = run(
        """
        do:
          - init:
              set: {count: 0}
          - inc:
              set: '${ {count: (.count + 1)} }'
          - check:
              switch:
                - again:
                    when: .count < 3
                    then: inc
                - done:
                    then: continue
          - finish:
              set: '${ {total: .count} }'
        """
    )
    assert d.output == {"total": 3}
    assert d.task_events("completed").count("/do/1/inc") == 3


def test_reentered_task_gets_a_fresh_frame_id_per_visit() -> None:
    defn = definition(
        """
        do:
          - init:
              set: {count: 0}
          - fetch:
              call: http
              with: {method: get, endpoint: https://example.com/n}
          - check:
              switch:
                - again:
                    when: .count < 2
                    then: fetch
                - done:
                    then: continue
        """
    )
    d = Driver(defn)
    d.start()
    ids = []
    for count in (1, 2):
        ids.append(d.perform().effect_id)
        d.complete(ids[-1], {"count": count})
    assert ids == ["/do/1/fetch", "/do/1/fetch~1"]
    assert (d.status, d.output) == ("completed", {"count": 2})


def test_exit_inside_do_completes_the_do_task_and_the_parent_continues() -> None:
    d = run(
        """
        do:
          - outer:
              do:
                - inner1:
                    set: {at: inner1}
                    then: exit
                - inner2:
                    set: {at: inner2}
          - after:
              set: '${ {before: .at, at: "after"} }'
        """
    )
    assert d.output == {"before": "inner1", "at": "after"}
    assert "/do/0/outer/do/1/inner2" not in d.task_events("started")


def test_end_inside_nested_do_ends_the_whole_workflow() -> None:
    d = run(
        """
        do:
          - outer:
              do:
                - inner:
                    set: {at: inner}
                    then: end
          - after:
              set: {at: after}
        """
    )
    assert (d.status, d.output) == ("completed", {"at": "inner"})
    assert "/do/1/after" not in d.task_events("started")


def test_exit_inside_for_stops_the_loop_and_the_for_task_completes() -> None:
    d = run(
        """
        do:
          - loop:
              for: {in: '.items'}
              do:
                - add:
                    set: '${ {seen: ((.seen // []) + [$item])} }'
                - stop:
                    if: '$item == 2'
                    set: '${ . }'
                    then: exit
          - after:
              set: '${ {final: .seen} }'
        """,
        {"items": [1, 2, 3, 4]},
    )
    assert d.output == {"final": [1, 2]}


def test_end_inside_for_ends_the_workflow() -> None:
    d = run(
        """
        do:
          - loop:
              for: {in: '.items'}
              do:
                - stop:
                    set: '${ {stoppedAt: $item} }'
                    then: end
          - after:
              set: {at: after}
        """,
        {"items": [7, 8]},
    )
    assert (d.status, d.output) == ("completed", {"stoppedAt": 7})


def test_exit_inside_try_completes_the_try_task() -> None:
    d = run(
        """
        do:
          - guarded:
              try:
                - a:
                    set: {at: a}
                    then: exit
                - b:
                    raise:
                      error: {type: https://example.com/never, status: 500}
              catch:
                do:
                  - h:
                      set: {at: handler}
          - after:
              set: '${ {prev: .at} }'
        """
    )
    assert (d.status, d.output) == ("completed", {"prev": "a"})


def test_exit_inside_catch_do_completes_the_try_task() -> None:
    d = run(
        """
        do:
          - guarded:
              try:
                - boom:
                    raise:
                      error: {type: https://example.com/boom, status: 500}
              catch:
                do:
                  - h1:
                      set: {at: h1}
                      then: exit
                  - h2:
                      set: {at: h2}
          - after:
              set: '${ {prev: .at} }'
        """
    )
    assert d.output == {"prev": "h1"}


def test_then_of_a_skipped_task_is_ignored() -> None:
    d = run(
        """
        do:
          - maybe:
              if: 'false'
              set: {skipped: false}
              then: end
          - next:
              set: '${ . + {next: true} }'
        """,
        {"in": 1},
    )
    assert d.output == {"in": 1, "next": True}


def test_load_refuses_a_then_to_a_missing_task() -> None:
    with pytest.raises(DefinitionError) as info:
        definition(
            """
            do:
              - a:
                  set: {x: 1}
                  then: nowhere
            """
        )
    assert "then target 'nowhere' does not exist" in str(info.value)
    assert "/do/0/a/then" in str(info.value)


def test_interpreter_faults_with_configuration_error_on_a_missing_then_target() -> None:
    defn = definition(
        """
        do:
          - a:
              set: {x: 1}
              then: nowhere
          - b:
              set: {x: 2}
        """,
        validate=False,
    )
    d = run(defn)
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("configuration"),
        "status": 400,
        "title": "Configuration Error",
        "detail": "then target 'nowhere' is not a task of this list",
        "instance": "/do/0/a",
    }


def test_then_in_a_nested_list_jumps_within_that_list_only() -> None:
    d = run(
        """
        do:
          - outer:
              do:
                - x:
                    set: {path: [x]}
                    then: z
                - y:
                    set: '${ .path += ["y"] }'
                - z:
                    set: '${ .path += ["z"] }'
          - y:
              set: '${ .path += ["outer-y"] }'
        """
    )
    assert d.output == {"path": ["x", "z", "outer-y"]}


def test_a_chain_of_pure_tasks_completes_within_one_advance_call() -> None:
    body = "do:\n" + "".join(f"  - s{i}:\n      set: {{n: '${{ (.n // 0) + 1 }}'}}\n" for i in range(10))
    d = run(body)
    assert len(d.steps) == 1  # the Started fact alone
    assert (d.status, d.output, d.commands) == ("completed", {"n": 10}, [])
