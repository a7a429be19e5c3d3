"""JMESPath, offered through ``evaluate.language: jmespath``.

JMESPath has no variables, so Flunq adds them: ``$name`` (outside string and JSON
literals) is rewritten, once at compile time, into a call of the custom function
``var('name')``, which returns the argument variable of that name (``null`` when the caller
gives none). Because a function call is evaluated wherever it appears, variables work
inside projections and filters, where ``@`` is the current element::

    items[?owner == $context.user].name      # -> items[?owner == var('context').user].name
    $input.order.lines[0]                    # -> var('input').order.lines[0]

``var('name')`` may also be written directly. Results may share structure with the data
they were read from (JMESPath returns parts of its input as they are): treat them as
read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jmespath as _jmespath
from jmespath import exceptions as _exceptions
from jmespath import functions as _functions

from flunq.errors import ExpressionError
from flunq.expressions.scanner import ident_end

_EMPTY: Mapping[str, Any] = {}
_QUOTES = frozenset("'\"`")


class _Variables(_functions.Functions):
    """The built-in functions plus ``var(name)``, bound to one evaluation's variables."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables

    @_functions.signature({"types": ["string"]})
    def _func_var(self, name: str) -> Any:
        return self._variables.get(name)


class JmesPathProgram:
    """One compiled JMESPath expression; :meth:`run` evaluates it."""

    __slots__ = ("_parsed", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        rewritten, names = rewrite_variables(text)
        self.variables = names
        try:
            self._parsed = _jmespath.compile(rewritten)
        except _exceptions.JMESPathError as exc:
            raise ExpressionError(_first_line(exc), expression=text) from None
        except Exception as exc:  # the parser may trip on odd input (e.g. a bad JSON literal)
            raise ExpressionError(f"invalid JMESPath expression: {exc}", expression=text) from None

    def run(self, data: Any, variables: Mapping[str, Any] | None) -> Any:
        """The value of the expression on ``data``."""
        options = _jmespath.Options(custom_functions=_Variables(variables or _EMPTY))
        try:
            return self._parsed.search(data, options)
        except _exceptions.JMESPathError as exc:
            raise ExpressionError(_first_line(exc), expression=self.text) from None
        except (TypeError, ValueError, AttributeError) as exc:  # e.g. comparing unlike types
            raise ExpressionError(f"{type(exc).__name__}: {exc}", expression=self.text) from None


def rewrite_variables(text: str) -> tuple[str, frozenset[str]]:
    """``text`` with each ``$name`` turned into ``var('name')``, and the names found."""
    out: list[str] = []
    names: set[str] = set()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _QUOTES:
            end = _literal_end(text, i)
            out.append(text[i:end])
            i = end
        elif c == "$" and ident_end(text, i + 1) > i + 1:
            end = ident_end(text, i + 1)
            names.add(text[i + 1 : end])
            out.append(f"var('{text[i + 1 : end]}')")
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out), frozenset(names)


def _literal_end(text: str, i: int) -> int:
    """The index after the raw string, quoted identifier or JSON literal starting at ``i``."""
    quote, j = text[i], i + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text))


def _first_line(exc: Exception) -> str:
    # Parse errors repeat the expression and a caret on further lines; the expression is
    # carried by ExpressionError already and the column is in the first line.
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0].rstrip(":")
