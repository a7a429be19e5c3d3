"""Compiled expressions and the compile cache."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from flunq.errors import ExpressionError
from flunq.expressions.jmespath import JmesPathProgram
from flunq.expressions.jq import JqProgram

#: How many compiled expressions (and compile failures) the cache keeps.
CACHE_SIZE = 4096


class Program(Protocol):
    variables: frozenset[str]

    def run(self, data: Any, variables: Mapping[str, Any] | None) -> Any: ...


LANGUAGES: dict[str, type[JqProgram] | type[JmesPathProgram]] = {
    "jq": JqProgram,
    "jmespath": JmesPathProgram,
}


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled runtime expression; get one from :func:`compile_expression`.

    ``variables`` are the names (without ``$``) of the argument variables the expression
    may reference; only those are handed to the engine on each evaluation.
    """

    source: str
    language: str
    variables: frozenset[str]
    _program: Program = field(repr=False, compare=False)

    def evaluate(self, data: Any, variables: Mapping[str, Any] | None = None) -> Any:
        """The value of the expression with ``.`` = ``data`` and ``$name`` = ``variables[name]``.

        A referenced variable missing from ``variables`` is ``null``. jq gives its first
        result; an expression without result raises :class:`ExpressionError`, like any
        evaluation failure.
        """
        return self._program.run(data, variables)


def compile_expression(text: str, language: str = "jq") -> Expression:
    """Compile ``text`` (without its ``${ }``) in ``language`` (``jq`` or ``jmespath``).

    Each (text, language) is compiled once: later calls return the same
    :class:`Expression`, and a text that failed to compile fails again without recompiling.
    Raises :class:`ExpressionError` on a syntax error or an unknown language.
    """
    compiled = _compile_cached(text, language)
    if isinstance(compiled, str):
        raise ExpressionError(compiled, expression=text)
    return compiled


def clear_cache() -> None:
    """Forget every compiled expression (tests and benchmarks use it)."""
    _compile_cached.cache_clear()


@lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(text: str, language: str) -> Expression | str:
    # A failure is cached as its message: in `loose` mode every plain string is tried as an
    # expression, and recompiling the ones that fail on each evaluation would be slow.
    kind = LANGUAGES.get(language.lower()) if isinstance(language, str) else None
    if kind is None:
        return f"unsupported expression language {language!r} (supported: jq, jmespath)"
    if not isinstance(text, str) or not text.strip():
        return "empty expression"
    try:
        program = kind(text)
    except ExpressionError as exc:
        return exc.message
    return Expression(text, language.lower(), program.variables, program)
