"""Property tests of the expression layer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flunq.errors import ExpressionError
from flunq.expressions import (
    Expression,
    compile_expression,
    evaluate_value,
    find_expressions,
    is_expression,
)
from flunq.expressions.scanner import jq_variables

plain_text = st.text(max_size=20).filter(lambda s: not is_expression(s))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_expression_free_values_come_back_unchanged(value: Any) -> None:
    result = evaluate_value(value, {"data": 1}, {"context": {}})
    assert result == value
    assert result is value


@settings(max_examples=300)
@given(st.text(max_size=40), st.sampled_from(["jq", "jmespath"]))
def test_any_text_compiles_or_raises_expression_error(text: str, language: str) -> None:
    try:
        expression = compile_expression(text, language)
    except ExpressionError as exc:
        assert exc.expression == text
    else:
        assert isinstance(expression, Expression)


jq_ish = st.text(alphabet=st.sampled_from(list('.$a()"\\#[]{}|,: \n1+')), max_size=30)


@settings(max_examples=300)
@given(jq_ish)
def test_jq_like_text_compiles_or_raises_expression_error(text: str) -> None:
    # Text made of jq's punctuation reaches the scanner's and the wrapper's corner cases.
    try:
        expression = compile_expression(text)
    except ExpressionError as exc:
        assert exc.expression == text
    else:
        assert expression.source == text


def _resolve(value: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


expression_leaves = st.text(max_size=10).map(lambda s: "${ " + s + "x }")
mixed_values = st.recursive(
    st.integers() | plain_text | expression_leaves,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=15,
)


@given(mixed_values)
def test_find_expressions_pointers_lead_to_the_expressions(value: Any) -> None:
    found = list(find_expressions(value))
    for pointer, text in found:
        target = _resolve(value, pointer)
        assert is_expression(target)
        assert text in target
    assert len(found) == _count_expressions(value)


def _count_expressions(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count_expressions(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_expressions(v) for v in value)
    return int(is_expression(value))


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s != "ENV" and not s.startswith("__")
)


@given(st.lists(identifiers, min_size=1, max_size=4))
def test_referenced_variables_are_found(names: list[str]) -> None:
    text = "[" + ", ".join(f"${name}" for name in names) + "]"
    assert jq_variables(text) == frozenset(names)
