"""``for``: each/at variables, iteration chaining, while, empty and non-list collections."""

from __future__ import annotations

from interpreter_helpers import Driver, definition, error_type, run


def test_iterations_chain_and_the_output_is_the_last_iterations() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .numbers
              do:
                - add:
                    set: '${ {total: ((.total // 0) + $item), last: $index} }'
        """,
        {"numbers": [1, 2, 3]},
    )
    assert d.output == {"total": 6, "last": 2}


def test_first_iteration_receives_the_for_tasks_transformed_input() -> None:
    d = run(
        """
        do:
          - loop:
              input:
                from: '${ {items: .numbers, seed: 100} }'
              for:
                in: .items
              do:
                - add:
                    set: '${ {seed: (.seed + $item)} }'
        """,
        {"numbers": [1, 2]},
    )
    assert d.output == {"seed": 103}


def test_custom_item_and_index_names() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .colors
                each: color
                at: position
              do:
                - note:
                    set: '${ {seen: ((.seen // []) + ["\\($position):\\($color)"])} }'
        """,
        {"colors": ["red", "green"]},
    )
    assert d.output == {"seen": ["0:red", "1:green"]}


def test_empty_collection_outputs_the_input_and_runs_nothing() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .items
              do:
                - never:
                    set: {ran: true}
        """,
        {"items": [], "keep": 1},
    )
    assert d.output == {"items": [], "keep": 1}
    assert d.task_events("started") == ["/do/0/loop"]


def test_non_list_collection_is_an_expression_error() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .items
              do:
                - never:
                    set: {ran: true}
        """,
        {"items": {"a": 1}},
    )
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("expression"),
        "status": 400,
        "title": "Expression Error",
        "detail": "for.in '.items' must evaluate to an array, got an object",
        "instance": "/do/0/loop",
    }


def test_null_collection_is_an_expression_error() -> None:
    d = run(
        "do:\n  - loop:\n      for:\n        in: .missing\n      do:\n        - x:\n            set: {a: 1}\n",
        {},
    )
    assert d.error is not None
    assert d.error["detail"] == "for.in '.missing' must evaluate to an array, got null"


def test_while_is_checked_before_each_iteration_with_the_loop_variables() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .numbers
              while: '$item < 3 and (.sum // 0) < 100'
              do:
                - add:
                    set: '${ {sum: ((.sum // 0) + $item)} }'
        """,
        {"numbers": [1, 2, 3, 1]},
    )
    assert d.output == {"sum": 3}


def test_while_sees_the_previous_iterations_output_as_dot() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .numbers
              while: '(.sum // 0) < 5'
              do:
                - add:
                    set: '${ {sum: ((.sum // 0) + $item)} }'
        """,
        {"numbers": [4, 4, 4]},
    )
    assert d.output == {"sum": 8}


def test_while_false_at_first_outputs_the_input() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: .numbers
              while: 'false'
              do:
                - add:
                    set: {ran: true}
        """,
        {"numbers": [1]},
    )
    assert d.output == {"numbers": [1]}


def test_iterations_with_effects_run_one_after_another_with_indexed_ids() -> None:
    defn = definition(
        """
        do:
          - loop:
              for:
                in: .ids
              do:
                - fetch:
                    call: http
                    with:
                      method: get
                      endpoint: '${ "https://example.com/items/\\($item)" }'
        """
    )
    d = Driver(defn)
    first = d.start({"ids": [10, 20]})
    assert [(p.effect_id, p.args["uri"]) for p in d.performs(first)] == [
        ("/do/0/loop/do[0]/0/fetch", "https://example.com/items/10")
    ]
    second = d.complete("/do/0/loop/do[0]/0/fetch", {"got": 10})
    assert [(p.effect_id, p.args["uri"]) for p in d.performs(second)] == [
        ("/do/0/loop/do[1]/0/fetch", "https://example.com/items/20")
    ]
    d.complete("/do/0/loop/do[1]/0/fetch", {"got": 20})
    assert (d.status, d.output) == ("completed", {"got": 20})


def test_loop_variables_are_not_visible_after_the_loop() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: '[1]'
              do:
                - x:
                    set: '${ {inside: $item} }'
          - after:
              set: '${ . + {outside: $item} }'
        """
    )
    assert d.output == {"inside": 1, "outside": None}


def test_nested_loops_see_both_variables() -> None:
    d = run(
        """
        do:
          - rows:
              for:
                in: '[1, 2]'
                each: row
              do:
                - cols:
                    for:
                      in: '[10, 20]'
                      each: col
                    do:
                      - cell:
                          set: '${ {cells: ((.cells // []) + [$row * $col])} }'
        """
    )
    assert d.output == {"cells": [10, 20, 20, 40]}


def test_iteration_fault_faults_the_for_task() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: '[1, 2, 3]'
              do:
                - check:
                    if: '$item == 2'
                    raise:
                      error:
                        type: https://example.com/errors/two
                        status: 422
        """
    )
    assert d.status == "faulted"
    assert d.error == {"type": "https://example.com/errors/two", "status": 422, "instance": "/do/0/loop/do/0/check"}
    assert d.task_events("faulted") == ["/do/0/loop/do/0/check", "/do/0/loop"]
