"""``run``: child workflows (``StartWorkflow``), shell/script/container processes, return
modes and the non-zero exit policy."""

from __future__ import annotations

from typing import Any

from interpreter_helpers import Driver, error_type, run

from flunq.interpreter.protocol import Perform, StartWorkflow

R = "/do/0/r"


def shell(extra: str = "", data: Any = None) -> Driver:
    return run(
        f"do:\n  - r:\n      run:\n        shell:\n          command: 'echo hi'\n{extra}",
        data,
    )


def test_run_workflow_starts_a_child_and_waits_for_it() -> None:
    d = run(
        """
        do:
          - r:
              run:
                workflow:
                  namespace: billing
                  name: charge
                  version: 1.2.0
                  input:
                    amount: '${ .total }'
        """,
        {"total": 12},
    )
    cmd = StartWorkflow(effect_id=R, namespace="billing", name="charge", version="1.2.0", input={"amount": 12}, wait=True)
    assert d.last.commands == [cmd]
    assert d.st.inflight == {R: cmd}
    assert d.status == "running"
    d.complete(R, {"charged": True})
    assert (d.status, d.output) == ("completed", {"charged": True})


def test_child_workflow_without_input_gets_the_task_input() -> None:
    d = run(
        "do:\n  - r:\n      run:\n        workflow: {namespace: a, name: b, version: 1.0.0}\n",
        {"x": 1},
    )
    assert d.of(StartWorkflow)[0].input == {"x": 1}


def test_child_workflow_failure_faults_the_task() -> None:
    d = run("do:\n  - r:\n      run:\n        workflow: {namespace: a, name: b, version: 1.0.0}\n")
    d.fail(R, {"type": error_type("runtime"), "status": 500, "title": "child faulted"})
    assert d.error == {"type": error_type("runtime"), "status": 500, "title": "child faulted", "instance": R}


def test_run_workflow_without_await_completes_at_once_with_the_input() -> None:
    d = run(
        "do:\n  - r:\n      run:\n        workflow: {namespace: a, name: b, version: 1.0.0}\n        await: false\n",
        {"x": 1},
    )
    assert d.last.commands == [
        StartWorkflow(effect_id=R, namespace="a", name="b", version="1.0.0", input={"x": 1}, wait=False)
    ]
    assert d.st.inflight == {}
    assert (d.status, d.output) == ("completed", {"x": 1})


def test_shell_arguments_are_evaluated_and_sent_to_the_executor() -> None:
    d = shell(
        "          arguments: ['${ .name }', plain]\n          stdin: '${ .text }'\n"
        "          environment:\n            GREETING: '${ .greet }'\n",
        {"name": "ann", "text": "in", "greet": "hey"},
    )
    perform = d.perform()
    assert (perform.effect_id, perform.kind, perform.task) == (R, "shell", R)
    assert perform.args == {
        "command": "echo hi",
        "arguments": ["ann", "plain"],
        "stdin": "in",
        "environment": {"GREETING": "hey"},
        "return": "stdout",
    }


def test_shell_stdout_is_the_default_output() -> None:
    d = shell()
    d.complete(R, {"code": 0, "stdout": "hi\n", "stderr": ""})
    assert d.output == "hi\n"


def test_return_modes() -> None:
    result = {"code": 0, "stdout": "out", "stderr": "err"}
    expected = {"stderr": "err", "code": 0, "all": result, "none": None, "stdout": "out"}
    for mode, output in expected.items():
        d = shell(f"        return: {mode}\n")
        assert d.perform().args["return"] == mode
        d.complete(R, result)
        assert (mode, d.output) == (mode, output)


def test_non_zero_exit_is_a_runtime_error_with_stderr_in_the_detail() -> None:
    d = shell()
    d.complete(R, {"code": 2, "stdout": "", "stderr": "boom"})
    assert d.error == {
        "type": error_type("runtime"),
        "status": 500,
        "title": "Process Failed",
        "detail": "exit code 2: boom",
        "instance": R,
    }


def test_non_zero_exit_is_data_with_return_code_or_all() -> None:
    d = shell("        return: code\n")
    d.complete(R, {"code": 3, "stdout": "", "stderr": "x"})
    assert (d.status, d.output) == ("completed", 3)
    d = shell("        return: all\n")
    d.complete(R, {"code": 3, "stdout": "o", "stderr": "x"})
    assert d.output == {"code": 3, "stdout": "o", "stderr": "x"}


def test_a_malformed_process_result_is_a_runtime_error() -> None:
    d = shell()
    d.complete(R, "just text")
    assert d.error is not None
    assert d.error["type"] == error_type("runtime")
    assert d.error["detail"] == "unexpected process result 'just text'"


def test_script_arguments() -> None:
    d = run(
        """
        do:
          - r:
              run:
                script:
                  language: python
                  code: print(1)
                  arguments: ['${ .a }']
                return: all
        """,
        {"a": "x"},
    )
    assert d.perform().args == {"language": "python", "code": "print(1)", "arguments": ["x"], "return": "all"}
    assert d.perform().kind == "script"


def test_container_arguments() -> None:
    d = run(
        """
        do:
          - r:
              run:
                container:
                  image: alpine:3
                  command: '${ "echo " + .word }'
                  environment: {A: '1'}
        """,
        {"word": "yo"},
    )
    assert d.perform().kind == "container"
    assert d.perform().args == {"image": "alpine:3", "command": "echo yo", "environment": {"A": "1"}, "return": "stdout"}


def test_process_without_await_is_fire_and_forget() -> None:
    d = shell("        await: false\n", {"x": 1})
    assert [type(c) for c in d.last.commands] == [Perform]
    assert d.st.inflight == {}
    assert (d.status, d.output) == ("completed", {"x": 1})
    assert d.complete(R, {"code": 0, "stdout": "late", "stderr": ""}).applied is False
