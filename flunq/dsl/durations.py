"""Durations of the DSL: ISO 8601 literals (``PT1M30.5S``) and inline objects.

Calendar units have no fixed length; like most engines we take a year (``Y``) as 365 days
and a month (``M`` in the date part) as 30 days; a week (``W``) is 7 days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from flunq.dsl.model import ISO_DURATION, DurationInline
from flunq.errors import DefinitionError

_ISO = re.compile(ISO_DURATION)

_DAY = 86_400.0
#: Seconds in each unit of an ISO literal, by regex group (date part, then time part).
_ISO_UNITS = ((1, 365 * _DAY), (2, 30 * _DAY), (3, 7 * _DAY), (4, _DAY), (6, 3600.0), (7, 60.0), (8, 1.0))
_INLINE_UNITS = {"days": _DAY, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0, "milliseconds": 0.001}

EXAMPLES = "an ISO 8601 duration such as PT30S, an object such as {seconds: 30}, or a ${ } expression"


def is_iso_duration(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 duration literal the DSL accepts."""
    return _ISO.fullmatch(text) is not None


def parse_duration(value: str | Mapping[str, Any] | DurationInline) -> float:
    """Seconds in a duration literal (``"PT1.5S"``) or inline object (``{"minutes": 2}``).

    Expressions are not evaluated here: evaluate them first and pass the result. Raises
    :class:`DefinitionError` (without a pointer; the caller knows where the value was).
    """
    if isinstance(value, DurationInline):
        value = msgspec.structs.asdict(value)
    if isinstance(value, str):
        return _parse_iso(value)
    if isinstance(value, Mapping):
        return _parse_inline(value)
    raise DefinitionError(f"a duration must be {EXAMPLES}, not {type(value).__name__}")


def _parse_iso(text: str) -> float:
    match = _ISO.fullmatch(text)
    if match is None:
        raise DefinitionError(f"invalid duration {text!r}: expected {EXAMPLES}")
    return sum(float(match.group(group)[:-1]) * unit for group, unit in _ISO_UNITS if match.group(group))


def _parse_inline(parts: Mapping[str, Any]) -> float:
    unknown = sorted(str(k) for k in parts if k not in _INLINE_UNITS)
    if unknown:
        raise DefinitionError(
            f"unknown duration part(s) {', '.join(unknown)} (use {', '.join(_INLINE_UNITS)})"
        )
    total = 0.0
    given = 0
    for name, amount in parts.items():
        if amount is None:
            continue
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            raise DefinitionError(f"duration part '{name}' must be a number, not {amount!r}")
        if amount < 0:
            raise DefinitionError(f"duration part '{name}' must not be negative ({amount})")
        total += amount * _INLINE_UNITS[name]
        given += 1
    if not given:
        raise DefinitionError(f"a duration needs at least one of {', '.join(_INLINE_UNITS)}")
    return total
