"""The argument variables of DSL §7.1/§8.1 as expressions see them."""

from __future__ import annotations

from interpreter_helpers import EXECUTION_ID, T0, Driver, at, definition, run

from flunq.interpreter import Env


def test_task_descriptor() -> None:
    d = run(
        """
        do:
          - first:
              set: {a: 1}
          - describe:
              input:
                from: '${ {transformed: .a} }'
              set: '${ $task }'
        """,
        {"in": 1},
    )
    assert d.output == {
        "name": "describe",
        "reference": "/do/1/describe",
        "definition": {"input": {"from": "${ {transformed: .a} }"}, "set": "${ $task }"},
        "input": {"a": 1},
        "output": None,
        "startedAt": {"iso8601": T0, "epoch": {"seconds": 1767225600, "milliseconds": 1767225600000}},
    }


def test_task_output_is_the_raw_output_in_output_as() -> None:
    d = run(
        """
        do:
          - t:
              set: {value: 1}
              output:
                as: '${ {raw: $task.output, dot: .} }'
        """
    )
    assert d.output == {"raw": {"value": 1}, "dot": {"value": 1}}


def test_task_started_at_is_the_time_of_the_fact_that_started_it() -> None:
    defn = definition(
        """
        do:
          - w:
              wait: PT90S
          - t:
              set: '${ $task.startedAt }'
        """
    )
    d = Driver(defn)
    d.start()
    d.fire("/do/0/w")
    assert d.output == {"iso8601": at(90), "epoch": {"seconds": 1767225690, "milliseconds": 1767225690000}}


def test_workflow_descriptor() -> None:
    d = run(
        """
        input:
          from: '${ {n: .n} }'
        do:
          - t:
              set: '${ {id: $workflow.id, name: $workflow.definition.document.name, input: $workflow.input, started: $workflow.startedAt.iso8601} }'
        """,
        {"n": 1, "extra": True},
    )
    assert d.output == {"id": EXECUTION_ID, "name": "wf", "input": {"n": 1, "extra": True}, "started": T0}


def test_runtime_descriptor_default_and_custom() -> None:
    body = "do:\n  - t:\n      set: '${ $runtime }'\n"
    assert run(body).output == {"name": "flunq", "version": "0.1.0", "metadata": {}}
    custom = Env(runtime={"name": "flunq", "version": "9.9", "metadata": {"node": "a"}})
    assert run(body, env=custom).output == {"name": "flunq", "version": "9.9", "metadata": {"node": "a"}}


def test_secrets_in_task_and_workflow_input_expressions() -> None:
    d = run(
        """
        use:
          secrets: [api]
        input:
          from: '${ {key: $secrets.api.key} }'
        do:
          - t:
              set: '${ {fromInput: .key, direct: $secrets.api.key} }'
        """,
        env=Env(secrets={"api": {"key": "k-1"}}),
    )
    assert d.output == {"fromInput": "k-1", "direct": "k-1"}


def test_workflow_input_from_has_no_task_or_context() -> None:
    d = run(
        """
        input:
          from: '${ {task: $task, ctx: $context, inp: $input, rt: $runtime.name} }'
        do: []
        """
    )
    assert d.output == {"task": None, "ctx": {}, "inp": None, "rt": "flunq"}


def test_input_is_the_transformed_input_and_output_is_the_transformed_output() -> None:
    d = run(
        """
        do:
          - t:
              input:
                from: '${ {x: .raw} }'
              set: {v: 1}
              output:
                as: '${ {v2: (.v + 1), input: $input} }'
              export:
                as: '${ {output: $output, input: $input, raw: $task.output} }'
          - read:
              set: '${ $context }'
        """,
        {"raw": 5},
    )
    assert d.output == {
        "output": {"v2": 2, "input": {"x": 5}},
        "input": {"x": 5},
        "raw": {"v": 1},
    }


def test_output_variable_is_null_inside_the_task_definition() -> None:
    d = run("do:\n  - t:\n      set: '${ {out: $output} }'\n")
    assert d.output == {"out": None}


def test_authorization_is_null_without_authentication() -> None:
    d = run("do:\n  - t:\n      set: '${ {auth: $authorization} }'\n")
    assert d.output == {"auth": None}


def test_bearer_authorization_descriptor() -> None:
    d = run(
        """
        do:
          - c:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://example.com/
                  authentication:
                    bearer: {token: tk}
              export:
                as: '${ {auth: $authorization} }'
        """
    )
    d.complete("/do/0/c", None)
    assert d.st.context == {"auth": {"scheme": "Bearer", "parameter": "tk"}}


def test_error_variable_exists_only_inside_catch() -> None:
    d = run(
        """
        do:
          - t:
              try:
                - boom:
                    raise:
                      error: {type: 'https://example.com/e', status: 409}
              catch:
                do:
                  - h:
                      set: '${ {inside: $error.status} }'
          - after:
              set: '${ . + {outside: $error} }'
        """
    )
    assert d.output == {"inside": 409, "outside": None}


def test_scoped_variables_of_for_reach_nested_tasks() -> None:
    d = run(
        """
        do:
          - loop:
              for:
                in: '["a", "b"]'
                each: letter
                at: i
              do:
                - inner:
                    do:
                      - deep:
                          set: '${ {out: ((.out // []) + [{letter: $letter, i: $i}])} }'
        """
    )
    assert d.output == {"out": [{"letter": "a", "i": 0}, {"letter": "b", "i": 1}]}


def test_context_is_visible_in_if_and_input_from() -> None:
    d = run(
        """
        do:
          - remember:
              set: {flag: true, value: 3}
              export:
                as: .
          - t:
              if: $context.flag
              input:
                from: '${ {v: $context.value} }'
              set: '${ {got: .v} }'
        """
    )
    assert d.output == {"got": 3}


def test_secrets_are_only_those_the_workflow_declares() -> None:
    d = run(
        """
        use:
          secrets: [api]
        do:
          - s:
              set: '${ $secrets | keys }'
        """,
        env=Env(secrets={"api": {"key": "k"}, "other": "not yours"}),
    )
    assert d.output == ["api"]


def test_a_declared_secret_the_runtime_lacks_is_an_authorization_error() -> None:
    d = run(
        """
        use:
          secrets: [api]
        do:
          - s:
              set: {key: '${ $secrets.api.key }'}
        """,
        env=Env(secrets={}),
    )
    assert d.status == "faulted"
    assert d.error is not None
    assert (d.error["type"].rsplit("/", 1)[1], d.error["status"]) == ("authorization", 403)
    assert "'api'" in d.error["detail"] and d.error["instance"] == "/do/0/s"
