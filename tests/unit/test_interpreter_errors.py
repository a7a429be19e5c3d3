"""Error paths: failing expressions, schemas, bad references, internal errors."""

from __future__ import annotations

from typing import Any

import pytest
from interpreter_helpers import error_type, run

from flunq.dsl import model as m
from flunq.interpreter.tasks import HANDLERS
from flunq.interpreter.tasks.base import Leaf


def expression_error(d: Any, instance: str) -> str:
    """Check ``d`` faulted with an expression error at ``instance``; return the detail."""
    assert d.status == "faulted"
    error = d.error
    assert (error["type"], error["status"], error["title"], error["instance"]) == (
        error_type("expression"),
        400,
        "Expression Error",
        instance,
    )
    return str(error["detail"])


def test_failing_jq_in_set_is_an_expression_error_at_the_task() -> None:
    d = run("do:\n  - s:\n      set: '${ .a | error(\"kaboom\") }'\n", {"a": 1})
    detail = expression_error(d, "/do/0/s")
    assert detail == "kaboom (in '.a | error(\"kaboom\")')"


def test_jq_type_error_is_an_expression_error() -> None:
    d = run("do:\n  - s:\n      set: '${ .a + 1 }'\n", {"a": "text"})
    detail = expression_error(d, "/do/0/s")
    assert "cannot be added" in detail


def test_expression_with_no_result_is_an_expression_error() -> None:
    d = run("do:\n  - s:\n      set: '${ empty }'\n")
    expression_error(d, "/do/0/s")


def test_failing_if_is_an_expression_error_at_the_task() -> None:
    d = run("do:\n  - s:\n      if: '.a | error(\"no\")'\n      set: {x: 1}\n", {})
    expression_error(d, "/do/0/s")


def test_failing_input_from_output_as_and_export_as() -> None:
    for field in ("input:\n        from", "output:\n        as", "export:\n        as"):
        d = run(f"do:\n  - s:\n      set: {{x: 1}}\n      {field}: '${{ error(\"x\") }}'\n")
        expression_error(d, "/do/0/s")


def test_failing_switch_when_is_an_expression_error() -> None:
    d = run(
        "do:\n  - s:\n      switch:\n        - c:\n            when: 'error(\"w\")'\n            then: end\n"
    )
    expression_error(d, "/do/0/s")


def test_failing_workflow_input_from_is_an_expression_error_at_the_root() -> None:
    d = run("input:\n  from: '${ error(\"in\") }'\ndo:\n  - s:\n      set: {x: 1}\n")
    expression_error(d, "/")


def test_failing_workflow_output_as_is_an_expression_error_at_output() -> None:
    d = run("do:\n  - s:\n      set: {x: 1}\noutput:\n  as: '${ error(\"out\") }'\n")
    expression_error(d, "/output")


def test_an_expression_error_can_be_caught() -> None:
    d = run(
        """
        do:
          - t:
              try:
                - s:
                    set: '${ .missing.deep + 1 }'
              catch:
                errors:
                  with: {type: 'https://serverlessworkflow.io/spec/1.0.0/errors/expression', status: 400}
                do:
                  - h:
                      set: '${ {caught: $error.instance} }'
        """,
        {"missing": "str"},
    )
    assert d.output == {"caught": "/do/0/t/try/0/s"}


def test_an_invalid_json_schema_is_a_configuration_error() -> None:
    d = run(
        """
        do:
          - s:
              input:
                schema:
                  document: {type: 12}
              set: {x: 1}
        """,
        {},
    )
    assert d.error is not None
    assert d.error["type"] == error_type("configuration")
    assert d.error["detail"].startswith("task input schema is not a valid JSON Schema")
    assert d.error["instance"] == "/do/0/s"


def test_external_schema_resources_are_a_configuration_error() -> None:
    d = run(
        """
        do:
          - s:
              output:
                schema:
                  resource:
                    endpoint: https://example.com/schema.json
              set: {x: 1}
        """
    )
    assert d.error is not None
    assert d.error["type"] == error_type("configuration")
    assert "external schema resources are not supported" in d.error["detail"]


def test_schema_violation_is_caught_as_a_validation_error() -> None:
    d = run(
        """
        do:
          - t:
              try:
                - s:
                    set: {x: one}
                    output:
                      schema:
                        document:
                          type: object
                          properties:
                            x: {type: integer}
              catch:
                errors:
                  with: {type: 'https://serverlessworkflow.io/spec/1.0.0/errors/validation'}
                do:
                  - h:
                      set: '${ {detail: $error.detail, status: $error.status} }'
        """
    )
    assert d.output == {"detail": "task output does not match its schema at /x: 'one' is not of type 'integer'", "status": 400}


def test_an_internal_bug_faults_the_execution_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(Leaf):
        def start(self, mc: Any, frame: Any, item: Any, vars: Any) -> Any:
            raise KeyError("oops")

    monkeypatch.setitem(HANDLERS, m.SetTask, Broken())
    d = run("do:\n  - w:\n      wait: PT1S\n  - s:\n      set: {x: 1}\n")
    step = d.fire("/do/0/w")
    assert step.applied is True
    assert d.error == {
        "type": error_type("runtime"),
        "status": 500,
        "title": "Internal Error",
        "detail": "KeyError: 'oops'",
        "instance": "/",
    }
    assert d.st.root is None


def test_an_effect_error_without_type_or_status_is_completed_with_runtime_defaults() -> None:
    d = run("""
    do:
      - get: {call: http, with: {method: get, endpoint: 'https://example.com/'}}
    """)
    d.fail("/do/0/get", {"title": "odd executor"})
    assert d.status == "faulted"
    assert d.error == {"title": "odd executor", "type": error_type("runtime"), "status": 500, "instance": "/do/0/get"}
