"""``set`` (the value replaces the data) and ``switch`` (first matching case, default last)."""

from __future__ import annotations

from interpreter_helpers import run


def test_set_map_replaces_the_data_entirely() -> None:
    d = run(
        """
        do:
          - s:
              set:
                shape: circle
                size: '${ .configuration.size }'
        """,
        {"configuration": {"size": 4, "color": "red"}},
    )
    assert d.output == {"shape": "circle", "size": 4}


def test_set_bare_expression_string() -> None:
    d = run("do:\n  - s:\n      set: '${ .a + .b }'\n", {"a": 2, "b": 3})
    assert d.output == 5


def test_set_evaluates_nested_values_and_keeps_non_expression_strings() -> None:
    d = run(
        """
        do:
          - s:
              set:
                nested:
                  list: ['${ .x }', literal, 3]
                  text: 'Hello ${ .x }'
        """,
        {"x": "X"},
    )
    assert d.output == {"nested": {"list": ["X", "literal", 3], "text": "Hello ${ .x }"}}


def test_set_with_loose_mode_keeps_unevaluable_strings() -> None:
    d = run(
        """
        evaluate:
          mode: loose
        do:
          - s:
              set:
                path: .x
                text: not jq at all ((
        """,
        {"x": 42},
    )
    assert d.output == {"path": 42, "text": "not jq at all (("}


SWITCH = """
do:
  - pick:
      switch:
        - fallback:
            then: other
        - red:
            when: .color == "red"
            then: isRed
        - green:
            when: .color == "green"
            then: isGreen
  - other:
      set: '${ . + {branch: "other"} }'
      then: end
  - isRed:
      set: '${ . + {branch: "red"} }'
      then: end
  - isGreen:
      set: '${ . + {branch: "green"} }'
      then: end
"""


def test_switch_first_matching_case_wins() -> None:
    assert run(SWITCH, {"color": "green"}).output == {"color": "green", "branch": "green"}


def test_switch_default_is_used_only_when_no_case_matches_even_if_written_first() -> None:
    assert run(SWITCH, {"color": "red"}).output == {"color": "red", "branch": "red"}
    assert run(SWITCH, {"color": "blue"}).output == {"color": "blue", "branch": "other"}


def test_switch_without_match_or_default_follows_its_own_then() -> None:
    d = run(
        """
        do:
          - pick:
              switch:
                - red:
                    when: .color == "red"
                    then: isRed
              then: fallback
          - isRed:
              set: {branch: red}
              then: end
          - fallback:
              set: '${ . + {branch: "fallback"} }'
        """,
        {"color": "yellow"},
    )
    assert d.output == {"color": "yellow", "branch": "fallback"}


def test_switch_without_match_continues_by_default_and_passes_its_input_through() -> None:
    d = run(
        """
        do:
          - pick:
              switch:
                - red:
                    when: .color == "red"
                    then: end
          - next:
              set: '${ {seen: .color} }'
        """,
        {"color": "yellow"},
    )
    assert d.output == {"seen": "yellow"}


def test_switch_case_order_decides_between_two_true_cases() -> None:
    d = run(
        """
        do:
          - pick:
              switch:
                - first:
                    when: .n > 1
                    then: a
                - second:
                    when: .n > 0
                    then: b
          - a:
              set: {took: a}
              then: end
          - b:
              set: {took: b}
        """,
        {"n": 5},
    )
    assert d.output == {"took": "a"}


def test_switch_when_sees_context_and_scoped_variables() -> None:
    d = run(
        """
        do:
          - remember:
              set: {limit: 2}
              export:
                as: .
          - loop:
              for:
                in: '[1, 2, 3]'
              do:
                - pick:
                    switch:
                      - big:
                          when: '$item > $context.limit'
                          then: mark
                - plain:
                    set: '${ . + {plain: ((.plain // 0) + 1)} }'
                    then: tail
                - mark:
                    set: '${ . + {big: $item} }'
                - tail:
                    set: '${ . }'
        """,
        {},
    )
    assert d.output == {"limit": 2, "plain": 2, "big": 3}
