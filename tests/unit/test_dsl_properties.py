"""Property-based: whatever the input, loading gives a Workflow or a located FlunqError.

Inputs are random JSON-like documents (as JSON and as YAML), random text and bytes, and
the official examples mutated: a key deleted, a value's type changed, a line (so a key)
duplicated, the text truncated, junk bytes inserted.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from flunq.dsl import load
from flunq.dsl.model import Workflow
from flunq.errors import DefinitionErrors, FlunqError

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec"
EXAMPLES = sorted((SPEC / "examples").glob("*.yaml"))
TEXTS = [p.read_bytes() for p in EXAMPLES]

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Keys of the DSL, so that random documents often get past the first checks.
KEYS = [
    "document", "dsl", "namespace", "name", "version", "do", "use", "input", "output", "as",
    "from", "set", "call", "with", "then", "switch", "when", "for", "in", "each", "try",
    "catch", "retry", "raise", "error", "wait", "seconds", "listen", "to", "any", "one",
    "until", "timeout", "after", "endpoint", "uri", "authentication", "secrets", "fork",
    "branches", "run", "shell", "command", "emit", "event", "type", "status", "if",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["1.0.3", "PT5S", "${ .a }", ".a ==", "http", "end", "exit", "x", "${ $secrets.s }"]),
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=30,
)


def check(text: str | bytes, source: str) -> None:
    """The property: a Workflow, or a FlunqError that can say where it is."""
    try:
        loaded = load(text, source)
    except FlunqError as exc:
        errors = exc.errors if isinstance(exc, DefinitionErrors) else [exc]
        assert errors
        for error in errors:
            where = error.located()
            assert where.startswith(f"{source}:") or where.startswith(f"{source}: ")
            assert error.pointer is not None, where
            assert error.message, where
        return
    assert isinstance(loaded.workflow, Workflow)
    assert isinstance(loaded.data, dict)


def yaml_text(data: Any) -> str:
    out = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.dump(data, out)
    return out.getvalue()


@SETTINGS
@given(JSONISH, st.booleans())
def test_random_documents(data: Any, as_json: bool) -> None:
    if as_json:
        check(json.dumps(data), "random.json")
    else:
        check(yaml_text(data), "random.yaml")


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_text_and_bytes(text: str | bytes) -> None:
    check(text, "junk.yaml")
    check(text, "junk.json")


needs_examples = pytest.mark.skipif(not EXAMPLES, reason=f"the shared spec data is absent ({SPEC})")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys and indexes) to a node below ``value``."""
    found = []
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@needs_examples
@SETTINGS
@given(st.data())
def test_mutated_examples_structure(draw: st.DataObject) -> None:
    """Delete a key or an item, or give a node another type, then load as YAML or JSON."""
    text = draw.draw(st.sampled_from(TEXTS), label="example")
    data = load(text).data
    path = draw.draw(st.sampled_from(_paths(data)), label="path")
    parent = _parent(data, path)
    if draw.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw.draw(JSONISH, label="value")
    if draw.draw(st.booleans(), label="as json"):
        check(json.dumps(data), "mutated.json")
    else:
        check(yaml_text(data), "mutated.yaml")


@needs_examples
@SETTINGS
@given(st.data())
def test_mutated_examples_text(draw: st.DataObject) -> None:
    """Duplicate a line, truncate the text or insert junk bytes, then load."""
    text = draw.draw(st.sampled_from(TEXTS), label="example")
    how = draw.draw(st.sampled_from(["duplicate", "truncate", "junk"]), label="mutation")
    if how == "duplicate":
        lines = text.splitlines(keepends=True)
        index = draw.draw(st.integers(0, len(lines) - 1), label="line")
        mutated = b"".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
    elif how == "truncate":
        mutated = text[: draw.draw(st.integers(0, len(text)), label="length")]
    else:
        at = draw.draw(st.integers(0, len(text)), label="offset")
        junk = draw.draw(st.binary(min_size=1, max_size=8), label="junk")
        mutated = text[:at] + junk + text[at:]
    check(mutated, "mutated.yaml")
