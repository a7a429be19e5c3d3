"""``raise``: inline and referenced errors, expressions in their fields, the instance."""

from __future__ import annotations

from interpreter_helpers import error_type, run


def test_inline_error_faults_the_workflow_with_the_task_as_instance() -> None:
    d = run(
        """
        do:
          - raiseError:
              raise:
                error:
                  type: https://serverlessworkflow.io/spec/1.0.0/errors/authentication
                  status: 401
                  title: Authentication Error
                  detail: Nope
        """
    )
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("authentication"),
        "status": 401,
        "title": "Authentication Error",
        "detail": "Nope",
        "instance": "/do/0/raiseError",
    }


def test_referenced_error_from_use_errors() -> None:
    d = run(
        """
        use:
          errors:
            notFound:
              type: https://example.com/errors/not-found
              status: 404
              title: Not Found
        do:
          - fail:
              raise:
                error: notFound
        """
    )
    assert d.error == {
        "type": "https://example.com/errors/not-found",
        "status": 404,
        "title": "Not Found",
        "instance": "/do/0/fail",
    }


def test_expressions_in_error_fields_are_evaluated_on_the_task_input() -> None:
    d = run(
        """
        do:
          - fail:
              raise:
                error:
                  type: '${ "https://example.com/errors/" + .kind }'
                  status: 400
                  title: '${ "Bad \\(.kind)" }'
                  detail: '${ "in workflow " + $workflow.definition.document.name }'
        """,
        {"kind": "order"},
    )
    assert d.error == {
        "type": "https://example.com/errors/order",
        "status": 400,
        "title": "Bad order",
        "detail": "in workflow wf",
        "instance": "/do/0/fail",
    }


def test_an_explicit_instance_is_kept() -> None:
    d = run(
        """
        do:
          - fail:
              raise:
                error: {type: 'https://example.com/e', status: 500, instance: /custom/place}
        """
    )
    assert d.error is not None and d.error["instance"] == "/custom/place"


def test_a_type_expression_giving_a_non_string_is_a_validation_error() -> None:
    d = run(
        """
        do:
          - fail:
              raise:
                error: {type: '${ .n }', status: 500}
        """,
        {"n": 3},
    )
    assert d.error is not None
    assert d.error["type"] == error_type("validation")
    assert d.error["instance"] == "/do/0/fail"
    assert d.error["detail"].startswith("a raised error needs a string type and an integer status")


def test_raise_in_a_nested_list_faults_every_enclosing_task() -> None:
    d = run(
        """
        do:
          - outer:
              do:
                - inner:
                    raise:
                      error: {type: 'https://example.com/e', status: 500}
        """
    )
    assert d.error == {"type": "https://example.com/e", "status": 500, "instance": "/do/0/outer/do/0/inner"}
    assert d.task_events("faulted") == ["/do/0/outer/do/0/inner", "/do/0/outer"]
    faulted = [e for e in d.events if e.type.endswith("task.faulted.v1")]
    assert all(e.data["error"] == d.error for e in faulted)


def test_tasks_after_a_raise_do_not_run() -> None:
    d = run(
        """
        do:
          - fail:
              raise:
                error: {type: 'https://example.com/e', status: 500}
          - never:
              set: {ran: true}
        """
    )
    assert d.task_events("created") == ["/do/0/fail"]
    assert d.output is None
