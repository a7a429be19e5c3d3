"""Evaluating the places of a definition that hold expressions.

Two kinds of places (DSL digest §8):

* expression-only fields (``if``, switch ``when``, ``for.in``, ``while``, ``input.from``,
  ``output.as``, ``export.as``, catch/retry ``when``/``exceptWhen``, listen ``until``,
  correlation ``from``): the text is an expression, bare or wrapped -> :func:`evaluate_field`;
* value positions (``set``, ``with``, ``body``, ``headers``, event ``data``...): a JSON value
  whose strings are expressions only when they are entirely ``${ ... }`` (``strict`` mode)
  or, in ``loose`` mode, whenever they evaluate -> :func:`evaluate_value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flunq.errors import ExpressionError
from flunq.expressions.expression import compile_expression
from flunq.expressions.text import is_expression, unwrap

MODES = ("strict", "loose")


def evaluate_field(
    text: Any,
    data: Any,
    variables: Mapping[str, Any] | None = None,
    *,
    language: str = "jq",
) -> Any:
    """Evaluate an expression-only field, written bare (``.a == 1``) or as ``${ .a == 1 }``.

    ``input.from``, ``output.as`` and ``export.as`` may also be objects: a value that is not
    a string is handed to :func:`evaluate_value` (strict mode).
    """
    if not isinstance(text, str):
        return evaluate_value(text, data, variables, language=language)
    return compile_expression(unwrap(text), language).evaluate(data, variables)


def evaluate_value(
    value: Any,
    data: Any,
    variables: Mapping[str, Any] | None = None,
    *,
    language: str = "jq",
    mode: str = "strict",
) -> Any:
    """``value`` with each of its expression strings replaced by its result.

    Objects and arrays are walked recursively; keys stay literal. Parts without expressions
    are returned as they are, not copied (a value without any expression comes back as the
    same object), so treat the result as read-only. An evaluation failure raises
    :class:`ExpressionError` (in strict mode), whose message ends with the failing string's
    JSON pointer relative to ``value`` when it is nested.
    """
    if mode not in MODES:
        raise ValueError(f"unknown expression mode {mode!r} (expected 'strict' or 'loose')")
    walk = _Walk(data, variables, language, mode == "loose")
    try:
        return walk.value(value)
    except ExpressionError as exc:
        _locate(exc, value)
        raise


class _Walk:
    """One walk over a value; the hot loops check leaves inline to save calls."""

    __slots__ = ("data", "language", "string", "variables")

    def __init__(
        self, data: Any, variables: Mapping[str, Any] | None, language: str, loose: bool
    ) -> None:
        self.data = data
        self.variables = variables
        self.language = language
        self.string = self.loose_string if loose else self.strict_string

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, dict):
            return self.object(value)
        if isinstance(value, list):
            return self.array(value)
        return value

    def object(self, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] | None = None
        string, walk = self.string, self.value
        for key, item in value.items():
            if isinstance(item, str):
                new = string(item)
            elif isinstance(item, (dict, list)):
                new = walk(item)
            else:
                continue
            if new is not item:
                if out is None:
                    out = dict(value)  # copy on the first change only
                out[key] = new
        return value if out is None else out

    def array(self, value: list[Any]) -> list[Any]:
        out: list[Any] | None = None
        string, walk = self.string, self.value
        for index, item in enumerate(value):
            if isinstance(item, str):
                new = string(item)
            elif isinstance(item, (dict, list)):
                new = walk(item)
            else:
                continue
            if new is not item:
                if out is None:
                    out = list(value)
                out[index] = new
        return value if out is None else out

    def strict_string(self, text: str) -> Any:
        # The substring test rejects most plain strings faster than the pattern.
        if "${" not in text or not is_expression(text):
            return text
        return self.evaluate(unwrap(text))

    def loose_string(self, text: str) -> Any:
        try:
            return self.evaluate(unwrap(text))
        except ExpressionError:
            return text

    def evaluate(self, text: str) -> Any:
        return compile_expression(text, self.language).evaluate(self.data, self.variables)


def _locate(exc: ExpressionError, value: Any) -> None:
    # Found after the fact, so that the walk builds no pointer while all goes well. The
    # first string holding the failed text is the one that failed: evaluation is in order.
    for pointer, text in find_expressions(value):
        if text == exc.expression:
            if pointer:
                exc.message = f"{exc.message} (at {pointer})"
                exc.args = (exc.message,)
            return


def find_expressions(value: Any) -> Iterator[tuple[str, str]]:
    """``(pointer, text)`` for each ``${ ... }`` string in ``value``, in document order.

    ``pointer`` is a JSON pointer relative to ``value`` (``""`` when ``value`` itself is the
    expression) and ``text`` is the expression without its ``${ }``, ready for
    :func:`~flunq.expressions.compile_expression`. Keys are never expressions.
    """
    yield from _find(value, "")


def _find(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if is_expression(value):
            yield pointer, unwrap(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _find(item, f"{pointer}/{escape(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _find(item, f"{pointer}/{index}")


def escape(key: object) -> str:
    """``key`` as a JSON pointer reference token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")
