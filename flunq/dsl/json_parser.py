"""Read JSON text into plain data, recording where each node starts.

A small iterative parser (no recursion, so no depth reaches Python's limit) that gives
exact, located errors, refuses duplicate keys (at their second occurrence), NaN and
infinities, lone surrogates, and nesting deeper than :data:`~flunq.dsl.limits.MAX_DEPTH`.
Strings are decoded by the standard library's scanner.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from flunq.dsl.limits import MAX_DEPTH
from flunq.dsl.positions import Position, Positions, escape
from flunq.errors import DefinitionError, DefinitionErrors

_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))


class _Lines:
    """Offsets to (line, column), cheap when asked in increasing order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def at(self, offset: int) -> Position:
        if offset < self.offset:
            self.offset, self.line, self.line_start = 0, 1, 0
        newlines = self.text.count("\n", self.offset, offset)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.offset, offset) + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1


class _Frame:
    __slots__ = ("keys", "pointer", "state", "value")

    def __init__(self, value: dict[str, Any] | list[Any], pointer: str) -> None:
        self.value = value
        self.pointer = pointer
        self.state = "start"  # then "item" (after a member) or "comma" (after a comma)
        self.keys: dict[str, Position] = {}


def parse_json(text: str) -> tuple[Any, Positions]:
    """Parse a JSON document; raise :class:`DefinitionError` (located) if it is not usable."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines = _Lines(text)
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.positions: dict[str, Position] = {}
        self.duplicates: list[DefinitionError] = []

    def parse(self) -> tuple[Any, Positions]:
        self._skip()
        if self.pos == len(self.text):
            raise DefinitionError("the document is empty", pointer="", line=1, column=1)
        self._value("", self.lines.at(self.pos), None)
        while self.stack:
            self._step(self.stack[-1])
        self._skip()
        if self.pos != len(self.text):
            raise self._error("unexpected text after the end of the JSON document")
        if self.duplicates:
            raise DefinitionErrors(self.duplicates)
        return self.root, Positions(self.positions)

    def _step(self, frame: _Frame) -> None:
        self._skip()
        char = self.text[self.pos : self.pos + 1]
        is_object = isinstance(frame.value, dict)
        closer = "}" if is_object else "]"
        if char == closer and frame.state != "comma":
            self.pos += 1
            self.stack.pop()
            return
        if frame.state == "item":
            if char != ",":
                raise self._error(f"expected ',' or '{closer}'", frame.pointer)
            self.pos += 1
            frame.state = "comma"
            return
        frame.state = "item"
        if is_object:
            self._member(frame)
        else:
            assert isinstance(frame.value, list)
            where = self.lines.at(self.pos)
            self._value(f"{frame.pointer}/{len(frame.value)}", where, None)

    def _member(self, frame: _Frame) -> None:
        if self.text[self.pos : self.pos + 1] != '"':
            raise self._error("expected a property name in double quotes", frame.pointer)
        where = self.lines.at(self.pos)
        key = self._string(frame.pointer)
        pointer = f"{frame.pointer}/{escape(key)}"
        first = frame.keys.get(key)
        if first is not None:
            self.duplicates.append(
                DefinitionError(
                    f"duplicate key '{key}' (first defined at line {first[0]}, column {first[1]})",
                    pointer=pointer,
                    line=where[0],
                    column=where[1],
                )
            )
        else:
            frame.keys[key] = where
        self._skip()
        if self.text[self.pos : self.pos + 1] != ":":
            raise self._error("expected ':' after the property name", pointer)
        self.pos += 1
        self._skip()
        self._value(pointer, where, key)

    def _value(self, pointer: str, where: Position, key: str | None) -> None:
        """Read the value at ``self.pos``; a container is opened, to be filled by ``_step``."""
        char = self.text[self.pos : self.pos + 1]
        if char in ("{", "["):
            if len(self.stack) >= MAX_DEPTH:
                message = f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
                raise self._error(message, pointer, syntax=False)
            self.pos += 1
            container: dict[str, Any] | list[Any] = {} if char == "{" else []
            self._attach(container, pointer, where, key)
            self.stack.append(_Frame(container, pointer))
            return
        value = self._string(pointer) if char == '"' else self._scalar(pointer)
        self._attach(value, pointer, where, key)

    def _attach(self, value: Any, pointer: str, where: Position, key: str | None) -> None:
        self.positions[pointer] = where
        if not self.stack:
            self.root = value
            return
        container = self.stack[-1].value
        if isinstance(container, dict):
            assert key is not None
            container[key] = value
        else:
            container.append(value)

    def _string(self, pointer: str) -> str:
        try:
            value, end = scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            raise self._error(exc.msg.lower(), pointer) from None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self._error("invalid \\u escape: lone surrogate", pointer) from None
        self.pos = end
        return str(value)

    def _scalar(self, pointer: str) -> Any:
        for word, value in _LITERALS:
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            if self.pos >= len(self.text):
                raise self._error("unexpected end of the document", pointer)
            found = self.text[self.pos]
            hint = " (NaN and Infinity are not JSON numbers)" if found in "NI-" else ""
            raise self._error(f"unexpected character {found!r}{hint}", pointer)
        text = match.group()
        try:
            number: Any = float(text) if match.group(1) or match.group(2) else int(text)
        except ValueError:  # more digits than Python converts
            raise self._error("the number has too many digits", pointer) from None
        if number in (float("inf"), float("-inf")):
            raise self._error(f"{text} is too large for a JSON number", pointer)
        self.pos = match.end()
        return number

    def _skip(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _error(self, message: str, pointer: str | None = None, syntax: bool = True) -> DefinitionError:
        line, column = self.lines.at(self.pos)
        if pointer is None:
            pointer = self.stack[-1].pointer if self.stack else ""
        text = f"invalid JSON: {message}" if syntax else message
        return DefinitionError(text, pointer=pointer, line=line, column=column)
