"""``parse_duration``: ISO 8601 literals and inline objects, in seconds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flunq.dsl import parse_duration
from flunq.dsl.durations import is_iso_duration
from flunq.dsl.model import DurationInline
from flunq.errors import DefinitionError

DAY = 86_400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT30S", 30),
        ("PT0S", 0),
        ("PT1.5S", 1.5),
        ("PT0.25S", 0.25),
        ("PT2M", 120),
        ("PT1H", 3600),
        ("PT1H30M", 5400),
        ("P1D", DAY),
        ("P1W", 7 * DAY),
        ("P1M", 30 * DAY),
        ("P1Y", 365 * DAY),
        ("P0.5D", DAY / 2),
        ("P1DT12H", 1.5 * DAY),
        ("P1Y2M3W4DT5H6M7.5S", (365 + 60 + 21 + 4) * DAY + 5 * 3600 + 6 * 60 + 7.5),
        ("PT36H", 36 * 3600),
    ],
)
def test_iso_literals(text: str, seconds: float) -> None:
    assert is_iso_duration(text)
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "30S", "PT30", "P1H", "PT1D", "P1S", "PT-1S", "PT1,5S", "p1d", "P1DT", "PT1.S", "${ .x }"],
)
def test_invalid_literals(text: str) -> None:
    assert not is_iso_duration(text)
    with pytest.raises(DefinitionError) as caught:
        parse_duration(text)
    assert caught.value.message.startswith(f"invalid duration {text!r}: expected an ISO 8601 duration")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ({"seconds": 5}, 5),
        ({"milliseconds": 1500}, 1.5),
        ({"days": 1, "hours": 2, "minutes": 3, "seconds": 4, "milliseconds": 5}, DAY + 7384.005),
        ({"minutes": 0}, 0),
        (DurationInline(hours=1, minutes=1), 3660),
    ],
)
def test_inline_objects(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "a duration needs at least one of days, hours, minutes, seconds, milliseconds"),
        ({"seconds": None}, "a duration needs at least one of days, hours, minutes, seconds, milliseconds"),
        ({"weeks": 1}, "unknown duration part(s) weeks (use days, hours, minutes, seconds, milliseconds)"),
        ({"seconds": -1}, "duration part 'seconds' must not be negative (-1)"),
        ({"seconds": "5"}, "duration part 'seconds' must be a number, not '5'"),
        ({"seconds": True}, "duration part 'seconds' must be a number, not True"),
        ({"seconds": float("nan")}, "duration part 'seconds' must be a number, not nan"),
        (5, "a duration must be an ISO 8601 duration such as PT30S, an object such as {seconds: 30}, or a ${ } expression, not int"),
    ],
)
def test_invalid_inline_objects(value: object, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_duration(value)  # type: ignore[arg-type]
    assert caught.value.message == message


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            unit: st.integers(min_value=0, max_value=10_000)
            for unit in ("days", "hours", "minutes", "seconds")
        },
    ).filter(bool)
)
def test_inline_and_iso_forms_agree(parts: dict[str, int]) -> None:
    date = f"{parts['days']}D" if "days" in parts else ""
    time = "".join(f"{parts[u]}{u[0].upper()}" for u in ("hours", "minutes", "seconds") if u in parts)
    literal = "P" + date + ("T" + time if time else "")
    assert parse_duration(literal) == pytest.approx(parse_duration(parts))
