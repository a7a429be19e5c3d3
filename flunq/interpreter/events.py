"""Matching CloudEvents against the DSL's event filters (``listen``, ``schedule.on``).

A filter is ``{"with": {attribute: expected}, "correlate": {key: {"from", "expect"}}}``.
An attribute matches when the event has it and: a ``${ }`` expected value is true when
evaluated with the attribute's value as ``.`` (``data: ${ .temperature > 38 }``); another
string is a regular expression that must match the whole value; an object matches an object
that has at least those members, recursively; anything else must be equal. Correlation
values are extracted from the whole event with the ``from`` expression.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from flunq import expressions
from flunq.errors import ExpressionError


def truthy(value: Any) -> bool:
    return value is not None and value is not False


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def attribute_matches(expected: Any, actual: Any, language: str = "jq") -> bool:
    if isinstance(expected, str):
        if expressions.is_expression(expected):
            try:
                return truthy(expressions.evaluate_field(expected, actual, {}, language=language))
            except ExpressionError:
                return False
        if isinstance(actual, str):
            pattern = _pattern(expected)
            return actual == expected if pattern is None else pattern.fullmatch(actual) is not None
        return False
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and attribute_matches(v, actual[k], language) for k, v in expected.items()
        )
    return bool(expected == actual)


def filter_matches(flt: dict[str, Any], event: dict[str, Any], language: str = "jq") -> bool:
    """Does ``event`` pass the ``with`` part of ``flt``? (Correlation is checked apart.)"""
    for name, expected in (flt.get("with") or {}).items():
        if name not in event or not attribute_matches(expected, event[name], language):
            return False
    return True


def correlation_values(flt: dict[str, Any], event: dict[str, Any], language: str = "jq") -> dict[str, Any] | None:
    """Values of the filter's correlation keys in ``event``; None if one cannot be extracted."""
    values = {}
    for key, spec in (flt.get("correlate") or {}).items():
        try:
            values[key] = expressions.evaluate_field(spec["from"], event, {}, language=language)
        except ExpressionError:
            return None
    return values
