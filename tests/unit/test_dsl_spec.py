"""The official examples, CTK workflows and invalid fixtures, against our loader and the schema.

The data lives in ``../shared/spec`` (read-only, never copied here); these tests skip when
it is absent. Our verdict (valid / invalid) must agree with the official JSON Schema,
checked here with ``jsonschema`` on the same documents read by an independent YAML reader.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from flunq.dsl import load, load_file
from flunq.errors import DefinitionError, DefinitionErrors

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec"
EXAMPLES = sorted((SPEC / "examples").glob("*.yaml"))
FEATURES = sorted((SPEC / "ctk" / "features").glob("*.feature"))
INVALID = sorted((SPEC / ".ci" / "validation" / "test" / "fixtures" / "invalid").glob("*"))

pytestmark = pytest.mark.skipif(
    not (SPEC / "schema" / "workflow.yaml").is_file(),
    reason=f"the shared spec data is absent ({SPEC})",
)

_DOC_START = re.compile(r'^(\s*)"""(\w*)\s*$')


def ctk_workflows() -> list[tuple[str, str]]:
    """(id, text) of every ``Given a workflow with definition:`` doc string."""
    found = []
    for feature in FEATURES:
        lines = feature.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if line.strip() != "Given a workflow with definition:":
                continue
            opening = _DOC_START.match(lines[index + 1])
            assert opening, f"{feature.name}:{index + 2}: expected a doc string"
            indent = len(opening.group(1))
            body = []
            for text in lines[index + 2 :]:
                if text.strip() == '"""':
                    break
                body.append(text[indent:] if text[:indent].strip() == "" else text.lstrip())
            found.append((f"{feature.stem}:{index + 1}", "\n".join(body) + "\n"))
    return found


CTK = ctk_workflows() if FEATURES else []


@cache
def schema_validator() -> Draft202012Validator:
    schema = YAML(typ="safe", pure=True).load((SPEC / "schema" / "workflow.yaml").read_text())
    return Draft202012Validator(schema)


def schema_verdict(text: str) -> bool:
    """Whether the official schema accepts the document (read by ruamel, last key wins)."""
    reader = YAML(typ="safe", pure=True)
    reader.allow_duplicate_keys = True
    data: Any = reader.load(text)
    return schema_validator().is_valid(data)


def our_verdict(text: str, source: str) -> bool:
    try:
        load(text, source)
    except DefinitionError:
        return False
    return True


def test_the_data_is_all_there() -> None:
    assert len(EXAMPLES) == 66
    assert len(CTK) == 21
    assert len(INVALID) == 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_validates(path: Path) -> None:
    loaded = load_file(path)
    assert loaded.workflow.document.name == loaded.data["document"]["name"]
    assert schema_verdict(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "text"), CTK, ids=[name for name, _ in CTK])
def test_every_ctk_workflow_loads_and_validates(name: str, text: str) -> None:
    loaded = load(text, name)
    assert loaded.workflow.do, "a CTK workflow has tasks"
    assert schema_verdict(text)


EXPECTED_FIXTURE_ERRORS = {
    "extra-property-in-call.yaml": (12, 7, "/do/0/getPet/foo", "unknown property `foo`"),
    "listen-any-until-any-until.yaml": (
        7,
        1,
        "/do",
        "duplicate key 'do' (first defined at line 6, column 1)",
    ),
    "two-tasks-in-one-item.yaml": (
        7,
        5,
        "/do/0",
        "each task list item must be a mapping with exactly one key (the task name), "
        "not a mapping with 2 keys",
    ),
}


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixtures_are_rejected_with_located_messages(path: Path) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_file(path)
    errors = caught.value.errors if isinstance(caught.value, DefinitionErrors) else [caught.value]
    line, column, pointer, message = EXPECTED_FIXTURE_ERRORS[path.name]
    first = errors[0]
    assert (first.line, first.column, first.pointer, first.message) == (line, column, pointer, message)
    assert first.located() == f"{path}:{line}:{column}: {message} - at {pointer}"
    assert not schema_verdict(path.read_text(encoding="utf-8"))


def test_verdicts_agree_with_the_official_schema() -> None:
    documents = [(p.name, p.read_text(encoding="utf-8")) for p in [*EXAMPLES, *INVALID]] + CTK
    disagreements = [
        name for name, text in documents if our_verdict(text, name) != schema_verdict(text)
    ]
    assert disagreements == []


def test_the_invalid_fixtures_are_invalid_for_a_reason_beyond_duplicates() -> None:
    """The duplicate ``do:`` fixture also has the nested ``until`` the schema forbids."""
    text = (INVALID[0].parent / "listen-any-until-any-until.yaml").read_text(encoding="utf-8")
    fixed = text.replace("do:\ndo:\n", "do:\n", 1)
    with pytest.raises(DefinitionError) as caught:
        load(fixed, "fixed.yaml")
    assert caught.value.message == "an 'until' strategy cannot have its own 'until'"
    assert caught.value.pointer == "/do/0/callDoctor/listen/to"
