"""Visit every node of a built workflow with its JSON pointer.

Checks of the validator are written against :class:`Site` objects: the value, where it is,
and which model field holds it (so a rule can say "every ``if``" or "every duration"
without listing the places). The walk is iterative and in declaration order of the model's
fields; free-form data that the engine never interprets (``metadata``, the ``document``
header, inline JSON Schemas) is not visited.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec

from flunq.dsl import model as m
from flunq.dsl.positions import escape

#: Fields holding data the engine carries but never reads as part of the DSL.
_OPAQUE = {(m.Workflow, "document"), (m.Schema, "document")}


@dataclass(frozen=True, slots=True)
class Site:
    """A node of the workflow: its value, pointer and the model field that holds it."""

    value: Any
    pointer: str
    owner: type | None = None  # the model class whose field holds the value
    field: str | None = None  # that field's attribute name

    def holds(self, cls: type, *fields: str) -> bool:
        """Whether this value is one of ``fields`` of ``cls`` (or of a subclass)."""
        return self.owner is not None and issubclass(self.owner, cls) and self.field in fields


def walk(root: Any, pointer: str = "") -> Iterator[Site]:
    """Every node under ``root`` (itself included), parents before children."""
    stack = [Site(root, pointer)]
    while stack:
        site = stack.pop()
        yield site
        stack.extend(reversed(list(_children(site))))


def _children(site: Site) -> Iterator[Site]:
    value = site.value
    if isinstance(value, m.TaskItem):
        yield Site(value.task, value.ref, m.TaskItem, "task")
    elif isinstance(value, msgspec.Struct):
        cls = type(value)
        for name, encoded in _fields(cls):
            child = getattr(value, name)
            if child is not None and child is not msgspec.UNSET:
                yield Site(child, f"{site.pointer}/{escape(encoded)}", cls, name)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield Site(child, f"{site.pointer}/{escape(str(key))}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield Site(child, f"{site.pointer}/{index}")


@cache
def _fields(cls: type) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f.name, f.encode_name)
        for f in msgspec.structs.fields(cls)
        if f.name != "metadata" and (cls, f.name) not in _OPAQUE
    )


@cache
def field_types(cls: type, name: str) -> frozenset[Any]:
    """The types a model field may hold, with unions and ``Annotated`` flattened."""
    for f in msgspec.structs.fields(cls):
        if f.name == name:
            return frozenset(_flatten(f.type))
    return frozenset()


def _flatten(tp: Any) -> Iterator[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            yield from _flatten(arg)
    elif origin is typing.Annotated:
        yield from _flatten(typing.get_args(tp)[0])
    else:
        yield tp


def may_hold(site: Site, cls: type) -> bool:
    """Whether the field holding ``site`` is typed to accept ``cls`` (e.g. a duration)."""
    if site.owner is None or site.field is None:
        return False
    return cls in field_types(site.owner, site.field)
