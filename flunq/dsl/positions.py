"""Where each node of a parsed document sits in its text.

The parsers record, for every node, the 1-based line and column where it starts: for a
mapping member that is the position of its *key* (where a reader looks for it), for a
sequence item the position of the item. Errors carry a JSON pointer; :meth:`Positions.locate`
turns it into a place in the text, falling back to the closest ancestor that exists (an
error about a missing property points at the object that lacks it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from flunq.errors import DefinitionError, DefinitionErrors

Position = tuple[int, int]


def escape(token: str) -> str:
    """Escape one JSON-pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def parent(pointer: str) -> str | None:
    """The pointer of the parent node, or ``None`` for the root."""
    if not pointer:
        return None
    return pointer[: pointer.rfind("/")]


def line_col(text: str, offset: int) -> Position:
    """1-based (line, column) of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


class Positions(Mapping[str, Position]):
    """A read-only map JSON pointer -> (line, column), both 1-based."""

    def __init__(self, entries: dict[str, Position] | None = None) -> None:
        self._entries: dict[str, Position] = entries if entries is not None else {}

    def __getitem__(self, pointer: str) -> Position:
        return self._entries[pointer]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def locate(self, pointer: str | None) -> Position | None:
        """The position of ``pointer``, or of its closest ancestor that has one."""
        current = pointer
        while current is not None:
            found = self._entries.get(current)
            if found is not None:
                return found
            current = parent(current)
        return None


def locate_error(error: DefinitionError, source: str, positions: Positions) -> DefinitionError:
    """Fill in ``source``, ``line`` and ``column`` of an error (of each, for several).

    Several problems are sorted into document order. Returns the error to raise.
    """
    if isinstance(error, DefinitionErrors):
        located = [locate_error(e, source, positions) for e in error.errors]
        located.sort(key=lambda e: (e.line or 0, e.column or 0))
        return DefinitionErrors(located)
    error.source = source
    if error.line is None:
        where = positions.locate(error.pointer if error.pointer is not None else "")
        if where is not None:
            error.line, error.column = where
    return error
