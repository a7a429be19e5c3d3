"""Reading documents: YAML 1.2 and JSON, positions, and hostile or broken input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from flunq.dsl import LoadedDocument, Positions, load, load_file
from flunq.dsl.limits import MAX_DEPTH
from flunq.dsl.loader import parse
from flunq.dsl.model import SetTask, Workflow
from flunq.errors import DefinitionError, DefinitionErrors

HEADER = "document: {dsl: '1.0.3', namespace: ns, name: wf, version: '1.0.0'}\n"
VALID = HEADER + "do:\n  - greet:\n      set:\n        message: hello\n"


def problem(text: str | bytes, source: str = "doc.yaml") -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        load(text, source)
    return caught.value


def messages(error: DefinitionError) -> list[str]:
    errors = error.errors if isinstance(error, DefinitionErrors) else [error]
    return [e.message for e in errors]


# --- the happy path -----------------------------------------------------------------------


def test_load_gives_data_model_and_positions() -> None:
    doc = load(VALID, "greet.yaml")
    assert isinstance(doc, LoadedDocument)
    assert doc.source == "greet.yaml"
    assert doc.data["do"] == [{"greet": {"set": {"message": "hello"}}}]
    assert isinstance(doc.workflow, Workflow)
    item = doc.workflow.do[0]
    assert (item.name, item.ref, type(item.task)) == ("greet", "/do/0/greet", SetTask)
    assert doc.positions[""] == (1, 1)
    assert doc.positions["/do"] == (2, 1)
    assert doc.positions["/do/0"] == (3, 5)
    assert doc.positions["/do/0/greet/set/message"] == (5, 9)


def test_positions_fall_back_to_the_closest_ancestor() -> None:
    positions = load(VALID).positions
    assert isinstance(positions, Positions)
    assert positions.locate("/do/0/greet/then") == (3, 5)
    assert positions.locate("/nowhere/at/all") == (1, 1)
    assert Positions().locate("/x") is None


def test_load_file_reads_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "wf.yaml"
    yaml_file.write_text(VALID)
    json_file = tmp_path / "wf.json"
    json_file.write_text(json.dumps(load(VALID).data, indent=2))
    assert load_file(yaml_file).data == load_file(json_file).data
    assert load_file(json_file).positions["/do/0/greet/set/message"] == (12, 11)


def test_load_file_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_file(tmp_path / "missing.yaml")
    assert caught.value.located().startswith(f"{tmp_path / 'missing.yaml'}: cannot read the file")


def test_validate_false_only_builds() -> None:
    text = HEADER + "do:\n  - a:\n      set: {x: 1}\n      then: nowhere\n"
    assert load(text, validate=False).workflow.do[0].task.then == "nowhere"
    assert messages(problem(text))[0].startswith("then target 'nowhere' does not exist")


def test_several_problems_come_in_document_order() -> None:
    text = HEADER + (
        "timeout: nope\n"
        "do:\n"
        "  - b:\n      wait: soon\n"
        "  - a:\n      set: {x: 1}\n      then: c\n"
    )
    error = problem(text, "wf.yaml")
    assert isinstance(error, DefinitionErrors)
    assert [(e.line, e.pointer) for e in error.errors] == [
        (2, "/timeout"),
        (5, "/do/0/b/wait"),
        (8, "/do/1/a/then"),
    ]
    assert str(error).splitlines()[0] == (
        "wf.yaml:2:1: timeout 'nope' is not defined in use.timeouts (none defined) - at /timeout"
    )


# --- YAML 1.2 semantics -------------------------------------------------------------------


def test_yaml_12_scalars() -> None:
    data, _ = parse(
        "on: yes\noff: no\ny: n\nwhen: 2001-12-14t21:59:43.10-05:00\ndate: 2002-12-14\n"
        "octal: 0o17\nhex: 0x1F\nold_octal: 017\nfloat: 1.5e3\nnull_: ~\nempty:\ntrue_: True\n"
        "quoted: '1.0'\ntagged: !!str 1.0\nint_tag: !!int '12'\nmerge: {<<: {a: 1}}\n"
    )
    assert data == {
        "on": "yes",
        "off": "no",
        "y": "n",
        "when": "2001-12-14t21:59:43.10-05:00",
        "date": "2002-12-14",
        "octal": 15,
        "hex": 31,
        "old_octal": 17,
        "float": 1500.0,
        "null_": None,
        "empty": None,
        "true_": True,
        "quoted": "1.0",
        "tagged": "1.0",
        "int_tag": 12,
        "merge": {"<<": {"a": 1}},
    }


def test_schedule_on_is_a_string_key() -> None:
    text = HEADER + "schedule:\n  on:\n    one:\n      with: {type: x}\ndo: []\n"
    assert load(text).workflow.schedule.on.one.with_ == {"type": "x"}


def test_scalar_keys_are_read_as_written() -> None:
    data, _ = parse("200: ok\n1.0: one\ntrue: yes\nnull: nothing\n")
    assert data == {"200": "ok", "1.0": "one", "true": "yes", "null": "nothing"}


def test_anchored_keys_can_be_aliased() -> None:
    data, _ = parse("&k name: 1\nother: {*k : 2}\n")
    assert data == {"name": 1, "other": {"name": 2}}


def test_anchors_and_aliases_are_expanded_into_independent_copies() -> None:
    text = HEADER + (
        "do:\n  - a:\n      set: &values {x: 1, y: [1, 2]}\n  - b:\n      set: *values\n"
    )
    doc = load(text)
    first, second = doc.data["do"][0]["a"]["set"], doc.data["do"][1]["b"]["set"]
    assert first == second and first is not second
    assert doc.positions.locate("/do/1/b/set/y/0") == (6, 7)


# --- refused input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "the document is empty", 1),
        ("   \n\n", "the document is empty", 1),
        ("# only a comment\n", "the document is empty", 1),
        ("---\n", "a workflow document must be a mapping, not null", 2),
        ("- a\n- b\n", "a workflow document must be a mapping, not a sequence", 1),
        ("just text\n", "a workflow document must be a mapping, not a string", 1),
        ("42\n", "a workflow document must be a mapping, not a number", 1),
        ("[]", "a workflow document must be a mapping, not a sequence", 1),
    ],
)
def test_documents_that_are_not_mappings(text: str, message: str, line: int) -> None:
    error = problem(text)
    assert error.message == message
    assert (error.source, error.line, error.column, error.pointer) == ("doc.yaml", line, 1, "")
    assert error.located() == f"doc.yaml:{line}:1: {message} - at /"


def test_duplicate_keys_are_all_reported_at_their_second_occurrence() -> None:
    error = problem("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert isinstance(error, DefinitionErrors)
    assert [e.located() for e in error.errors] == [
        "doc.yaml:4:3: duplicate key 'c' (first defined at line 3, column 3) - at /b/c",
        "doc.yaml:5:1: duplicate key 'a' (first defined at line 1, column 1) - at /a",
    ]


def test_duplicate_keys_in_json() -> None:
    error = problem('{"a": 1,\n "a": 2}', "doc.json")
    assert error.located() == "doc.json:2:2: duplicate key 'a' (first defined at line 1, column 2) - at /a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object:os.system x\n", "unsupported YAML tag !!python/object:os.system"),
        ("a: !!python/name:os.system\n", "unsupported YAML tag !!python/name:os.system"),
        ("a: !!binary aGVsbG8=\n", "unsupported YAML tag !!binary"),
        ("a: !custom x\n", "unsupported YAML tag !custom"),
        ("a: !!set {x, y}\n", "unsupported YAML tag !!set"),
        ("a: !!timestamp 2001-01-01\n", "unsupported YAML tag !!timestamp"),
        ("!!python/object:x {a: 1}\n", "unsupported YAML tag !!python/object:x"),
        ("a: !!int x\n", "'x' is not a valid !!int value"),
        ("a: .inf\n", ".inf is not a JSON number (NaN and infinities are not allowed)"),
        ("a: -.Inf\n", "-.Inf is not a JSON number (NaN and infinities are not allowed)"),
        ("a: 1e999\n", "1e999 is too large for a JSON number"),
        ("a: " + "9" * 5000 + "\n", "the number has too many digits"),
        ("? [a]\n: 1\n", "a mapping key must be a string, not a sequence"),
        ("? {a: 1}\n: 1\n", "a mapping key must be a string, not a mapping"),
        ("a: *nothing\n", "alias *nothing refers to no anchor"),
        ("a: &x [1, *x]\n", "alias *x refers to a node that contains it"),
        ("a: 1\n---\nb: 2\n", "a workflow file must hold exactly one YAML document; found a second one"),
    ],
)
def test_refused_yaml(text: str, message: str) -> None:
    assert problem(text).message == message


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ('{"a": NaN}', "invalid JSON: unexpected character 'N' (NaN and Infinity are not JSON numbers)", (1, 7)),
        ('{"a": -Infinity}', "invalid JSON: unexpected character '-' (NaN and Infinity are not JSON numbers)", (1, 7)),
        ('{"a": 1e400}', "invalid JSON: 1e400 is too large for a JSON number", (1, 7)),
        ('{"a": "\\ud800"}', "invalid JSON: invalid \\u escape: lone surrogate", (1, 7)),
        ('{"a": "x\ny"}', "invalid JSON: invalid control character at", (1, 9)),
        ('{"a": 1,}', "invalid JSON: expected a property name in double quotes", (1, 9)),
        ('{"a": 1 "b": 2}', "invalid JSON: expected ',' or '}'", (1, 9)),
        ('{"a" 1}', "invalid JSON: expected ':' after the property name", (1, 6)),
        ('{"a": [1, 2}', "invalid JSON: expected ',' or ']'", (1, 12)),
        ('{"a": 1} trailing', "invalid JSON: unexpected text after the end of the JSON document", (1, 10)),
        ('{"a": tru}', "invalid JSON: unexpected character 't'", (1, 7)),
        ('{"a": ', "invalid JSON: unexpected end of the document", (1, 7)),
    ],
)
def test_refused_json(text: str, message: str, where: tuple[int, int]) -> None:
    error = problem(text, "doc.json")
    assert error.message.startswith(message)
    assert (error.line, error.column) == where


def test_text_that_starts_like_json_is_read_as_json() -> None:
    assert problem('{"a": NaN}', "<string>").message.startswith("invalid JSON")
    data, _ = parse("{a: NaN}")  # YAML flow style stays YAML
    assert data == {"a": "NaN"}


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\xfd garbage",
        b"document: \xc3\x28\n",
        bytes(range(256)),
        b"\x00\x01\x02\x03",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
)
def test_binary_junk_is_refused_cleanly(raw: bytes) -> None:
    error = problem(raw)
    assert error.source == "doc.yaml"
    assert error.located().startswith("doc.yaml")


def test_invalid_utf8_is_located_at_the_byte() -> None:
    error = problem(b"a: 1\nb: ok \xff\n")
    assert (error.message, error.line, error.column) == (
        "the document is not valid UTF-8 text (byte 0xff at offset 11)",
        2,
        7,
    )


def test_byte_order_marks() -> None:
    assert load(b"\xef\xbb\xbf" + VALID.encode()).data["do"][0]["greet"]["set"]["message"] == "hello"
    assert load(VALID.encode("utf-16")).data == load(VALID).data


def test_control_characters_and_tabs() -> None:
    assert problem("a: \x07\n").message == "character '\\x07' is not allowed in YAML text"
    error = problem("a:\n\tb: 1\n")
    assert (error.line, error.column) == (2, 1)
    assert "'\\t'" in error.message
    assert load(HEADER.replace("ns,", "ns,\t") + "do: []\n").workflow.document.namespace == "ns"


def test_unpaired_surrogates_in_text() -> None:
    assert problem("a: \ud800\n").message == "the text contains an unpaired surrogate character"


# --- resource limits ----------------------------------------------------------------------


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    started = time.perf_counter()
    error = problem("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 2
    assert error.message.startswith("the document is too large (more than")


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("[" * 10_000_000, "deep.yaml"),
        ("{a: " * 2_500_000, "deep.yaml"),
        ("".join(" " * i + "a:\n" for i in range(4000)), "deep.yaml"),
        ("- " * 5_000_000, "deep.yaml"),
        ('{"a": ' + "[" * 10_000_000, "deep.json"),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences", "json"],
)
def test_deep_nesting_is_refused_cleanly(text: str, source: str) -> None:
    started = time.perf_counter()
    error = problem(text, source)
    assert time.perf_counter() - started < 5
    assert error.message == f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    assert error.line is not None


def test_nesting_just_below_the_limit_builds_and_validates() -> None:
    depth = MAX_DEPTH - 6  # the root, do, its item, the task, set and x come first
    value = "1"
    for _ in range(depth):
        value = f"[{value}]"
    text = HEADER + f"do:\n  - a:\n      set:\n        x: {value}\n"
    assert load(text).data["do"][0]["a"]["set"]["x"] is not None
    nested = HEADER + "do:\n" + _nested_do(38)
    assert load(nested).workflow.do[0].name == "level0"


def _nested_do(levels: int) -> str:
    lines = []
    for level in range(levels):
        pad = "  " * (2 * level)
        lines += [f"{pad}  - level{level}:", f"{pad}      do:"]
    pad = "  " * (2 * levels)
    lines += [f"{pad}  - leaf:", f"{pad}      set: {{done: true}}"]
    return "\n".join(lines) + "\n"
