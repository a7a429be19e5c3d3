"""Read YAML text into plain JSON-like data, recording where each node starts.

We consume ruamel.yaml's *event* stream and build the tree ourselves, with an explicit
stack, instead of letting a constructor do it. That keeps every decision ours:

- YAML 1.2 core schema for plain scalars (``on``/``yes`` stay strings, timestamps stay
  strings); NaN and infinities are refused, as JSON has no such numbers;
- no object is ever constructed from a tag: only the standard scalar/collection tags are
  understood, anything else (``!!python/...``, ``!!binary``, custom tags) is refused;
- mapping keys are read as the text written (``200: x`` gives the key ``"200"``); a
  collection as a key is refused;
- a duplicate key is an error at its second occurrence, never a silent merge;
- nesting deeper than :data:`~flunq.dsl.limits.MAX_DEPTH` and more than
  :data:`~flunq.dsl.limits.MAX_NODES` nodes (aliases count once per use, which stops
  billion-laughs documents) are refused before they cost anything;
- ``<<`` is an ordinary key (merge keys are not part of YAML 1.2).

The parser itself is an iterative state machine, so no input reaches Python's recursion
limit.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from flunq.dsl.limits import MAX_DEPTH, MAX_NODES
from flunq.dsl.positions import Position, Positions, escape, line_col
from flunq.errors import DefinitionError, DefinitionErrors

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"~|null|Null|NULL|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_KEY_TAGS = ("!!str", "!!int", "!!float", "!!bool", "!!null")
_NOT_FINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


def parse_yaml(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document; raise :class:`DefinitionError` (located) if it is not usable."""
    tree = _TreeBuilder()
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            tree.feed(event)
    except ReaderError as exc:
        line, column = line_col(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        reason = f"character {char!r} is not allowed in YAML text"
        raise DefinitionError(reason, pointer=tree.pointer, line=line, column=column) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, tree.pointer) from None
    except YAMLError as exc:  # other ruamel errors carry no mark
        raise DefinitionError(f"invalid YAML: {exc}", pointer=tree.pointer) from None
    return tree.result()


def _syntax_error(exc: MarkedYAMLError, pointer: str) -> DefinitionError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context})"
    line = column = None
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    return DefinitionError(f"invalid YAML: {problem}", pointer=pointer, line=line, column=column)


def _position(event: ev.Event) -> Position:
    mark = event.start_mark
    return mark.line + 1, mark.column + 1


class _Frame:
    """An open mapping or sequence."""

    __slots__ = ("anchor", "key", "key_position", "keys", "pointer", "value", "weight")

    def __init__(self, value: dict[str, Any] | list[Any], pointer: str, anchor: str | None) -> None:
        self.value = value
        self.pointer = pointer
        self.anchor = anchor
        self.weight = 1
        self.key: str | None = None  # a mapping's key waiting for its value
        self.key_position: Position = (0, 0)
        self.keys: dict[str, Position] = {}


class _TreeBuilder:
    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0
        self.nodes = 0
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.positions: dict[str, Position] = {}
        self.duplicates: list[DefinitionError] = []

    @property
    def pointer(self) -> str:
        """Pointer of the deepest open node: where a syntax error most likely is."""
        if not self.stack:
            return ""
        top = self.stack[-1]
        if top.key is not None:
            return f"{top.pointer}/{escape(top.key)}"
        return top.pointer

    def result(self) -> tuple[Any, Positions]:
        if self.duplicates:
            raise DefinitionErrors(self.duplicates)
        if self.documents == 0:
            raise DefinitionError("the document is empty", pointer="", line=1, column=1)
        return self.root, Positions(self.positions)

    def feed(self, event: ev.Event) -> None:
        if isinstance(event, ev.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, ev.MappingStartEvent):
            self._open(event, {})
        elif isinstance(event, ev.SequenceStartEvent):
            self._open(event, [])
        elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
            self._close()
        elif isinstance(event, ev.AliasEvent):
            self._alias(event)
        elif isinstance(event, ev.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise DefinitionError(
                    "a workflow file must hold exactly one YAML document; found a second one",
                    pointer="",
                    line=event.start_mark.line + 1,
                    column=event.start_mark.column + 1,
                )

    # -- nodes -----------------------------------------------------------------------------

    def _scalar(self, event: ev.ScalarEvent) -> None:
        if self._expects_key():
            self._key(str(event.value), event)
            if event.anchor:
                self.anchors[event.anchor] = (str(event.value), 1)
            return
        try:
            value = _resolve(event)
        except DefinitionError as exc:
            exc.pointer = self._next_pointer()
            raise
        self._count(1, event)
        self._weigh(1)
        self._place(value, event)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)

    def _open(self, event: ev.CollectionStartEvent, value: dict[str, Any] | list[Any]) -> None:
        if self._expects_key():
            kind = "mapping" if isinstance(value, dict) else "sequence"
            raise self._error(f"a mapping key must be a string, not a {kind}", event)
        tag = event.tag
        wanted = "map" if isinstance(value, dict) else "seq"
        if tag not in (None, "!", _CORE + wanted):
            raise self._error(f"unsupported YAML tag {_short(tag)}", event)
        if len(self.stack) >= MAX_DEPTH:
            raise self._error(f"the document is nested too deeply (more than {MAX_DEPTH} levels)", event)
        self._count(1, event)
        pointer = self._place(value, event)
        self.stack.append(_Frame(value, pointer, event.anchor))
        if event.anchor:
            self.open_anchors.add(event.anchor)

    def _close(self) -> None:
        frame = self.stack.pop()
        self._weigh(frame.weight)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.value, frame.weight)

    def _alias(self, event: ev.AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self._error(f"alias *{name} refers to a node that contains it", event)
        if name not in self.anchors:
            raise self._error(f"alias *{name} refers to no anchor", event)
        value, weight = self.anchors[name]
        if self._expects_key():
            if not isinstance(value, str):
                raise self._error(f"a mapping key must be a string; alias *{name} is not", event)
            self._key(value, event)
            return
        self._count(weight, event)
        self._weigh(weight)
        self._place(copy.deepcopy(value), event)

    # -- helpers ---------------------------------------------------------------------------

    def _expects_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].value, dict) and self.stack[-1].key is None

    def _key(self, key: str, event: ev.Event) -> None:
        frame = self.stack[-1]
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and _short(tag) not in _KEY_TAGS:
            raise self._error(f"unsupported YAML tag {_short(tag)}", event)
        where = _position(event)
        first = frame.keys.get(key)
        if first is not None:
            self.duplicates.append(
                DefinitionError(
                    f"duplicate key '{key}' (first defined at line {first[0]}, column {first[1]})",
                    pointer=f"{frame.pointer}/{escape(key)}",
                    line=where[0],
                    column=where[1],
                )
            )
        else:
            frame.keys[key] = where
        frame.key, frame.key_position = key, where

    def _weigh(self, weight: int) -> None:
        """Add to the size of the open collection (what an alias to it will cost)."""
        if self.stack:
            self.stack[-1].weight += weight

    def _next_pointer(self) -> str:
        if not self.stack:
            return ""
        frame = self.stack[-1]
        if isinstance(frame.value, dict):
            return f"{frame.pointer}/{escape(frame.key or '')}"
        return f"{frame.pointer}/{len(frame.value)}"

    def _place(self, value: Any, event: ev.Event) -> str:
        """Put a new node under the open collection (or at the root); return its pointer."""
        if not self.stack:
            self.root = value
            self.positions[""] = _position(event)
            return ""
        frame = self.stack[-1]
        if isinstance(frame.value, dict):
            assert frame.key is not None
            pointer = f"{frame.pointer}/{escape(frame.key)}"
            frame.value[frame.key] = value
            where = frame.key_position
            frame.key = None
        else:
            pointer = f"{frame.pointer}/{len(frame.value)}"
            frame.value.append(value)
            where = _position(event)
        self.positions[pointer] = where
        return pointer

    def _count(self, weight: int, event: ev.Event) -> None:
        self.nodes += weight
        if self.nodes > MAX_NODES:
            raise self._error(
                f"the document is too large (more than {MAX_NODES} nodes, counting each use of an alias)",
                event,
            )

    def _error(self, message: str, event: ev.Event) -> DefinitionError:
        line, column = _position(event)
        return DefinitionError(message, pointer=self.pointer, line=line, column=column)


def _short(tag: str | None) -> str:
    text = str(tag)
    return "!!" + text[len(_CORE) :] if text.startswith(_CORE) else text


def _resolve(event: ev.ScalarEvent) -> Any:
    """The JSON value of a scalar under the YAML 1.2 core schema."""
    text = str(event.value)
    tag = event.tag
    if tag is None:
        plain = event.style is None and event.implicit is not None and event.implicit[0]
        return _core_value(text, event) if plain else text
    if tag in ("!", _CORE + "str"):
        return text
    kind = str(tag)[len(_CORE) :] if str(tag).startswith(_CORE) else None
    if kind in ("int", "float", "bool", "null"):
        value = _core_value(text, event)
        if _fits(kind, value):
            return value
        raise _scalar_error(f"{text!r} is not a valid {_short(tag)} value", event)
    raise _scalar_error(f"unsupported YAML tag {_short(tag)}", event)


def _fits(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _core_value(text: str, event: ev.ScalarEvent) -> Any:
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    if _NOT_FINITE.fullmatch(text):
        raise _scalar_error(f"{text} is not a JSON number (NaN and infinities are not allowed)", event)
    try:
        if _INT.fullmatch(text):
            return int(text)
        if _OCT.fullmatch(text):
            return int(text[2:], 8)
        if _HEX.fullmatch(text):
            return int(text[2:], 16)
        if _FLOAT.fullmatch(text):
            number = float(text)
            if number in (float("inf"), float("-inf")):
                raise _scalar_error(f"{text} is too large for a JSON number", event)
            return number
    except ValueError:  # more digits than Python converts
        raise _scalar_error("the number has too many digits", event) from None
    return text


def _scalar_error(message: str, event: ev.Event) -> DefinitionError:
    line, column = _position(event)
    return DefinitionError(message, line=line, column=column)
