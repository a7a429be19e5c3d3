"""``flunq validate``: exit codes and output lines."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from flunq.cli import COMMANDS, main

VALID = (
    "document: {dsl: '1.0.3', namespace: ns, name: wf, version: '1.0.0'}\n"
    "do:\n"
    "  - greet:\n"
    "      set: {message: hello}\n"
)
INVALID = (
    "document: {dsl: '1.0.3', namespace: ns, name: wf, version: '1.0.0'}\n"
    "do:\n"
    "  - greet:\n"
    "      set: {message: hello}\n"
    "      then: farewell\n"
    "  - wait:\n"
    "      wait: soon\n"
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "valid": tmp_path / "valid.yaml",
        "invalid": tmp_path / "invalid.yaml",
        "json": tmp_path / "broken.json",
    }
    paths["valid"].write_text(VALID)
    paths["invalid"].write_text(INVALID)
    paths["json"].write_text('{"document": {"dsl": "1.0.3"},}')
    return paths


def test_valid_files_exit_0_quietly(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(files["valid"])]) == 0
    assert capsys.readouterr().out == ""


def test_verbose_prints_ok_lines(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-v", str(files["valid"]), str(files["valid"])]) == 0
    assert capsys.readouterr().out == f"OK {files['valid']}\nOK {files['valid']}\n"


def test_problems_exit_1_with_one_line_each(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(files["valid"]), str(files["invalid"]), str(files["json"])])
    assert code == 1
    invalid, broken = files["invalid"], files["json"]
    assert capsys.readouterr().out.splitlines() == [
        f"{invalid}:5:7: then target 'farewell' does not exist in this task list (tasks: greet, wait)"
        " - at /do/0/greet/then",
        f"{invalid}:7:7: invalid duration 'soon': expected an ISO 8601 duration such as PT30S, "
        "an object such as {seconds: 30}, or a ${ } expression - at /do/1/wait/wait",
        f"{broken}:1:31: invalid JSON: expected a property name in double quotes - at /",
    ]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    assert "the following arguments are required: FILE" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0


def test_unreadable_file_exits_2_but_checks_the_others(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(missing), str(files["invalid"])]) == 2
    captured = capsys.readouterr()
    assert f"cannot read {missing}" in captured.err
    assert len(captured.out.splitlines()) == 2


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(INVALID.encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["validate", "-"]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith("<stdin>:5:7: then target 'farewell'")


def test_commands_are_registered_in_one_place() -> None:
    assert list(COMMANDS) == ["run", "serve", "validate"]


def test_the_installed_script(files: dict[str, Path]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "flunq.cli", "validate", str(files["valid"]), str(files["invalid"])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout.splitlines()[0].startswith(f"{files['invalid']}:5:7: then target 'farewell'")
    assert run.stderr == ""
