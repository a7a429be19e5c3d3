"""``use.extensions``: before/after lists around the tasks they extend."""

from __future__ import annotations

from pathlib import Path

import pytest
from interpreter_helpers import definition, run

from flunq.interpreter.protocol import Perform

MOCK = """
use:
  extensions:
    - mock:
        extend: call
        when: '$task.with.endpoint | type == "string" and startswith("https://mocked.test")'
        before:
          - fake:
              set: {mocked: true}
              then: exit
do:
  - real:
      call: http
      with: {method: get, endpoint: 'https://real.test/x'}
  - mocked:
      call: http
      with: {method: get, endpoint: 'https://mocked.test/y'}
"""


def test_a_before_list_that_exits_replaces_the_task() -> None:
    d = run(MOCK)
    assert [c.effect_id for c in d.of(Perform)] == ["/do/0/real"]
    d.complete("/do/0/real", {"real": 1})
    assert (d.status, d.output) == ("completed", {"mocked": True})
    assert [p.args["uri"] for p in d.of(Perform)] == ["https://real.test/x"]


def test_before_and_after_lists_run_around_the_task_and_the_task_output_stays() -> None:
    d = run(
        """
        use:
          extensions:
            - audit:
                extend: set
                before:
                  - note: {set: '${ {seen: .} }', export: {as: '$context + {before: .seen}'}}
                after:
                  - note: {set: {ignored: true}, export: {as: '$context + {after: true}'}}
        do:
          - a: {set: {x: '${ .x + 1 }'}}
          - b: {set: '${ {x: .x, context: $context} }'}
        """,
        {"x": 1},
    )
    assert d.status == "completed", d.error
    assert d.output == {"x": 2, "context": {"before": {"x": 2}, "after": True}}


def test_extensions_apply_by_kind_and_all() -> None:
    d = run(
        """
        use:
          extensions:
            - onWaits:
                extend: wait
                before:
                  - mark: {set: {waited: true}, then: exit}
            - everywhere:
                extend: all
                after:
                  - count: {set: {k: 1}, export: {as: '$context + {n: (($context.n // 0) + 1)}'}}
        do:
          - pause: {wait: PT1H}
          - s: {set: {k: 2}}
          - t: {set: '${ {n: $context.n} }'}
        """
    )
    # The wait was replaced by the mock (no timer, and no after lists for it); `s` ran
    # with `everywhere` after it; `t` reads the context before its own after list runs.
    assert (d.status, d.output) == ("completed", {"n": 1})
    assert d.st.timers == {}


def test_tasks_inside_extension_lists_are_not_extended() -> None:
    d = run(
        """
        use:
          extensions:
            - everywhere:
                extend: all
                before:
                  - inner: {set: {k: 1}, export: {as: '$context + {n: (($context.n // 0) + 1)}'}}
        do:
          - s: {set: '${ {n: $context.n} }'}
        """
    )
    assert (d.status, d.output) == ("completed", {"n": 1})


def test_a_when_that_cannot_be_evaluated_does_not_apply() -> None:
    d = run(
        """
        use:
          extensions:
            - picky:
                extend: set
                when: '.missing | startswith("x")'
                before:
                  - replace: {set: {replaced: true}, then: exit}
        do:
          - s: {set: {kept: true}}
        """
    )
    assert d.output == {"kept": True}


def test_the_extended_task_keeps_its_then() -> None:
    d = run(
        """
        use:
          extensions:
            - log:
                extend: set
                after:
                  - nothing: {set: {k: 1}}
        do:
          - a: {set: {at: a}, then: c}
          - b: {set: {at: b}}
          - c: {set: '${ {at: .at, last: "c"} }'}
        """
    )
    assert d.output == {"at": "a", "last": "c"}


def test_a_fault_in_a_before_list_faults_the_task() -> None:
    d = run(
        """
        use:
          extensions:
            - guard:
                extend: set
                before:
                  - deny: {raise: {error: {type: 'https://example.com/denied', status: 403}}}
        do:
          - s: {set: {x: 1}}
        """
    )
    assert d.status == "faulted"
    assert d.error is not None and (d.error["status"], d.error["instance"]) == (403, "/use/extensions/0/guard/before/0/deny")


SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "examples" / "mock-service-extension.yaml"


@pytest.mark.skipif(not SPEC.is_file(), reason=f"spec examples not found at {SPEC}")
def test_the_spec_mock_service_example_calls_its_real_endpoint() -> None:
    from interpreter_helpers import Driver

    from flunq.dsl import load_file
    from flunq.interpreter import Definition

    loaded = load_file(SPEC)
    d = Driver(Definition(loaded.workflow, loaded.data))
    d.start({})
    assert [p.args["uri"] for p in d.of(Perform)] == ["https://fake.com/sample"]


def test_definitions_index_extension_lists() -> None:
    defn = definition(MOCK)
    assert defn.lists["/use/extensions/0/mock/before"][0].name == "fake"
