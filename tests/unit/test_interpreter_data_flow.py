"""The data flow of DSL §7: if → input.schema → input.from → task → output.as →
output.schema → export.as (→ export.schema); workflow input/output transforms and schemas."""

from __future__ import annotations

from interpreter_helpers import Driver, definition, error_type, run

ORDERED = """
do:
  - t:
      input:
        schema:
          document: {type: object, required: [raw]}
        from: '${ {fromInput: .raw} }'
      set: '${ {task: .fromInput, input: $input} }'
      output:
        as: '${ {out: .task, raw: $task.output, input: $input} }'
        schema:
          document: {type: object, required: [out]}
      export:
        as: '${ $context + {exported: .out, sawOutput: $output.out} }'
        schema:
          document: {type: object, required: [exported]}
  - next:
      set: '${ {ctx: $context, data: .} }'
"""


def test_each_stage_sees_the_result_of_the_previous_one_in_spec_order() -> None:
    d = run(ORDERED, {"raw": 5})
    assert d.status == "completed"
    raw_output = {"task": 5, "input": {"fromInput": 5}}
    assert d.output == {
        "ctx": {"exported": 5, "sawOutput": 5},
        "data": {"out": 5, "raw": raw_output, "input": {"fromInput": 5}},
    }


def test_input_schema_is_checked_on_the_raw_input_before_input_from() -> None:
    d = run(ORDERED, {"other": 1})
    assert d.status == "faulted"
    error = d.error
    assert error is not None
    assert error["type"] == error_type("validation")
    assert error["status"] == 400
    assert error["instance"] == "/do/0/t"
    assert error["detail"] == "task input does not match its schema at /: 'raw' is a required property"


def test_output_schema_is_checked_after_output_as() -> None:
    d = run(
        """
        do:
          - t:
              set: {value: 1}
              output:
                as: '${ {renamed: .value} }'
                schema:
                  document: {type: object, required: [value]}
        """
    )
    assert d.status == "faulted"
    assert d.error is not None
    assert d.error["type"] == error_type("validation")
    assert d.error["detail"] == "task output does not match its schema at /: 'value' is a required property"
    assert d.error["instance"] == "/do/0/t"


def test_export_schema_is_checked_on_the_new_context() -> None:
    d = run(
        """
        do:
          - t:
              set: {value: 1}
              export:
                as: '${ {other: .value} }'
                schema:
                  document: {type: object, required: [value]}
        """
    )
    assert d.status == "faulted"
    assert d.error is not None
    assert d.error["detail"] == "exported context does not match its schema at /: 'value' is a required property"


def test_if_is_evaluated_on_the_raw_input_before_input_from() -> None:
    d = run(
        """
        do:
          - t:
              if: .raw == 1
              input:
                from: '${ {renamed: .raw} }'
              set: '${ {got: .renamed} }'
        """,
        {"raw": 1},
    )
    assert d.output == {"got": 1}


def test_skipped_task_runs_no_schema_transform_or_export() -> None:
    d = run(
        """
        do:
          - t:
              if: 'false'
              input:
                schema:
                  document: {type: string}
                from: '${ error("input.from must not run") }'
              set: {never: true}
              export:
                as: '${ {clobbered: true} }'
          - next:
              set: '${ {data: ., ctx: $context} }'
        """,
        {"keep": 1},
    )
    assert d.output == {"data": {"keep": 1}, "ctx": {}}
    assert d.task_events("created") == ["/do/1/next"]


def test_initial_context_is_an_empty_object() -> None:
    d = run("do:\n  - t:\n      set: '${ {ctx: $context} }'\n", {"input": 1})
    assert d.output == {"ctx": {}}


def test_export_as_replaces_the_context() -> None:
    d = run(
        """
        do:
          - first:
              set: {a: 1}
              export:
                as: '${ {a: .a} }'
          - second:
              set: {b: 2}
              export:
                as: .
          - read:
              set: '${ $context }'
        """
    )
    assert d.output == {"b": 2}


def test_export_as_can_merge_into_the_context() -> None:
    d = run(
        """
        do:
          - first:
              set: {a: 1}
              export:
                as: .
          - second:
              set: {b: 2}
              export:
                as: '$context + .'
          - read:
              set: '${ $context }'
        """
    )
    assert d.output == {"a": 1, "b": 2}
    assert d.st.context == {"a": 1, "b": 2}


def test_context_is_unchanged_without_export() -> None:
    d = run(
        """
        do:
          - first:
              set: {a: 1}
              export:
                as: .
          - second:
              set: {b: 2}
          - read:
              set: '${ $context }'
        """
    )
    assert d.output == {"a": 1}


def test_transforms_may_be_objects_of_expressions() -> None:
    d = run(
        """
        do:
          - t:
              input:
                from:
                  name: '${ .user.name }'
                  fixed: literal
              set:
                greeting: '${ "hi " + .name }'
                fixed: '${ .fixed }'
              output:
                as:
                  message: '${ .greeting }'
                  tag: '${ .fixed }'
              export:
                as:
                  lastMessage: '${ .message }'
          - read:
              set: '${ {data: ., ctx: $context} }'
        """,
        {"user": {"name": "ann"}},
    )
    assert d.output == {
        "data": {"message": "hi ann", "tag": "literal"},
        "ctx": {"lastMessage": "hi ann"},
    }


def test_output_of_a_task_is_the_raw_input_of_the_next() -> None:
    d = run(
        """
        do:
          - a:
              set: {x: 1, y: 2}
              output:
                as: .x
          - b:
              set: '${ {prev: .} }'
        """
    )
    assert d.output == {"prev": 1}


def test_workflow_input_from_transforms_and_workflow_input_keeps_the_raw_input() -> None:
    d = run(
        """
        input:
          from: '${ {n: .value} }'
        do:
          - t:
              set: '${ {data: ., raw: $workflow.input} }'
        """,
        {"value": 3, "noise": True},
    )
    assert d.output == {"data": {"n": 3}, "raw": {"value": 3, "noise": True}}
    assert d.st.input == {"value": 3, "noise": True}


def test_workflow_input_schema_violation_faults_at_the_root() -> None:
    d = run(
        """
        input:
          schema:
            document:
              type: object
              required: [id]
              properties:
                id: {type: integer}
        do:
          - t:
              set: {x: 1}
        """,
        {"id": "seven"},
    )
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("validation"),
        "status": 400,
        "title": "Validation Error",
        "detail": "workflow input does not match its schema at /id: 'seven' is not of type 'integer'",
        "instance": "/",
    }
    assert d.task_events("created") == []


def test_workflow_input_schema_is_checked_before_input_from() -> None:
    d = run(
        """
        input:
          schema:
            document: {type: object, required: [id]}
          from: .id
        do:
          - t:
              set: '${ {got: .} }'
        """,
        {"id": 4},
    )
    assert d.output == {"got": 4}


def test_workflow_output_as_sees_the_context() -> None:
    d = run(
        """
        do:
          - t:
              set: {a: 1}
              export:
                as: '${ {saved: .a} }'
        output:
          as: '${ {result: .a, ctx: $context} }'
        """
    )
    assert d.output == {"result": 1, "ctx": {"saved": 1}}


def test_workflow_output_schema_is_checked_after_output_as() -> None:
    body = """
        do:
          - t:
              set: {a: 1}
        output:
          as: '${ {wrapped: .a} }'
          schema:
            document: {type: object, required: [%s]}
        """
    ok = run(body % "wrapped")
    assert (ok.status, ok.output) == ("completed", {"wrapped": 1})
    bad = run(body % "a")
    assert bad.status == "faulted"
    assert bad.error is not None
    assert bad.error["detail"] == "workflow output does not match its schema at /: 'a' is a required property"
    assert bad.error["instance"] == "/"


def test_task_input_from_is_the_dot_and_input_of_effect_arguments() -> None:
    defn = definition(
        """
        do:
          - c:
              input:
                from: '${ {id: .order.id} }'
              call: http
              with:
                method: post
                endpoint: https://example.com/orders/{id}
                body:
                  dot: '${ .id }'
                  input: '${ $input.id }'
        """
    )
    d = Driver(defn)
    d.start({"order": {"id": 9}})
    perform = d.perform()
    assert perform.args["uri"] == "https://example.com/orders/9"
    assert perform.args["body"] == {"dot": 9, "input": 9}


def test_output_as_is_evaluated_on_the_raw_effect_result() -> None:
    d = Driver(
        definition(
            """
            do:
              - c:
                  call: http
                  with: {method: get, endpoint: https://example.com/x}
                  output:
                    as: .items[0]
            """
        )
    )
    d.start()
    d.complete("/do/0/c", {"items": [{"id": 1}, {"id": 2}]})
    assert d.output == {"id": 1}
