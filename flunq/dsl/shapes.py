"""Shapes the typed model lets through but the official schema forbids.

The model reads an optional property given as ``null`` as if it were absent, keeps event
properties as a free mapping, ``use.extensions`` items as plain mappings and some strings
without their pattern; the schema rejects ``null`` for every DSL property, types the
standard CloudEvent attributes, wants one extension per item, error types that are URIs,
non-empty error filters, and HTTP ``headers``/``query`` strings that are expressions. These
checks close the gap so that our verdict agrees with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from flunq.dsl import model as m
from flunq.dsl.positions import escape
from flunq.dsl.problems import Problems
from flunq.dsl.references import URI
from flunq.dsl.walker import Site, field_types
from flunq.expressions import is_expression

#: CloudEvent attributes with a type in the schema; ``uri`` ones may also be expressions.
_EVENT_STRINGS = ("id", "type", "subject", "datacontenttype")
_EVENT_URIS = ("source", "dataschema")


def check_shapes(sites: Iterable[Site], data: Any, problems: Problems) -> None:
    for site in sites:
        value = site.value
        if isinstance(value, msgspec.Struct) and not isinstance(value, m.TaskItem) and data is not None:
            _check_nulls(site, data, problems)
        if site.holds(m.Use, "extensions") and isinstance(value, list):
            _check_extension_items(site, value, problems)
        elif isinstance(value, m.EmitEvent):
            _check_event(value.with_ or {}, f"{site.pointer}/with", problems, emitted=True)
        elif isinstance(value, m.EventFilter):
            _check_event(value.with_, f"{site.pointer}/with", problems, emitted=False)
        elif isinstance(value, m.ErrorDefinition):
            _check_error_type(value.type, f"{site.pointer}/type", problems)
        elif isinstance(value, m.ErrorFilter) and _is_empty(value, site.pointer, data):
            problems.add(
                "an error filter needs at least one of type, status, instance, title, details",
                site.pointer,
            )
        elif (
            site.holds(m.HttpArguments, "headers", "query")
            and isinstance(value, str)
            and not is_expression(value)
        ):
            name = site.pointer.rsplit("/", 1)[-1]
            problems.add(f"'{name}' must be a mapping or a ${{ }} expression", site.pointer)


def node_at(data: Any, pointer: str) -> Any:
    """The node of plain ``data`` at a JSON pointer, or ``None`` when there is none."""
    node = data
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _is_empty(node: msgspec.Struct, pointer: str, data: Any) -> bool:
    """Whether a node was written as ``{}`` (open nodes drop unknown keys, so ask the data)."""
    if data is not None:
        return node_at(data, pointer) == {}
    return all(v is None for v in msgspec.structs.asdict(node).values())


def _check_nulls(site: Site, data: Any, problems: Problems) -> None:
    raw = node_at(data, site.pointer)
    if not isinstance(raw, dict):
        return
    cls: type = type(site.value)
    for info in msgspec.structs.fields(cls):
        if info.encode_name in raw and raw[info.encode_name] is None and Any not in field_types(cls, info.name):
            problems.add(
                f"'{info.encode_name}' must not be null (leave it out to use its default)",
                f"{site.pointer}/{escape(info.encode_name)}",
            )


def _check_extension_items(site: Site, items: list[Any], problems: Problems) -> None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and len(item) != 1:
            problems.add(
                f"each use.extensions item must be a mapping with exactly one extension "
                f"(name: {{extend, ...}}), not {len(item)} keys",
                f"{site.pointer}/{index}",
            )


def _check_error_type(kind: str, pointer: str, problems: Problems) -> None:
    if not (is_expression(kind) or URI.match(kind)):
        problems.add(
            f"error type {kind!r} must be a URI with a scheme (such as "
            "https://serverlessworkflow.io/spec/1.0.0/errors/runtime) or a ${ } expression",
            pointer,
        )


def _check_event(properties: dict[str, Any], pointer: str, problems: Problems, emitted: bool) -> None:
    if emitted:
        missing = [name for name in ("source", "type") if name not in properties]
        if missing:
            problems.add(f"an emitted event needs {' and '.join(missing)}", pointer)
    for name, value in properties.items():
        here = f"{pointer}/{escape(name)}"
        if name in _EVENT_STRINGS or name == "time":
            if not isinstance(value, str):
                problems.add(f"event attribute '{name}' must be a string", here)
        elif name in _EVENT_URIS and not (
            isinstance(value, str) and (is_expression(value) or URI.match(value))
        ):
            problems.add(
                f"event attribute '{name}' must be a URI with a scheme or a ${{ }} expression", here
            )
