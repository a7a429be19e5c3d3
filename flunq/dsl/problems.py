"""Collect every problem of a document before reporting, instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Iterable

from flunq.errors import DefinitionError, DefinitionErrors

#: How many names a message lists before it says "..." (keeps lines readable).
_LISTED = 12


class Problems:
    """Problems found so far, each a :class:`DefinitionError` with a JSON pointer."""

    def __init__(self) -> None:
        self.errors: list[DefinitionError] = []

    def add(self, message: str, pointer: str) -> None:
        self.errors.append(DefinitionError(message, pointer=pointer))

    def extend(self, errors: Iterable[DefinitionError]) -> None:
        self.errors.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise DefinitionErrors(self.errors)


def listing(names: Iterable[str], what: str = "defined") -> str:
    """``defined: a, b`` or ``none defined``, cut after a dozen names."""
    shown = list(names)
    if not shown:
        return f"none {what}"
    more = ", ..." if len(shown) > _LISTED else ""
    return f"{what}: {', '.join(shown[:_LISTED])}{more}"
