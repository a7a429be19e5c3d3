"""JMESPath expressions (``evaluate.language: jmespath``) and their ``$name`` variables."""

from __future__ import annotations

from typing import Any

import pytest

from flunq.errors import ExpressionError
from flunq.expressions import compile_expression, evaluate_field, evaluate_value
from flunq.expressions.jmespath import rewrite_variables

ORDERS = {"items": [{"id": 1, "name": "a", "owner": "ann"}, {"id": 2, "name": "b", "owner": "bob"}]}


def jmes(text: str, data: Any, variables: dict[str, Any] | None = None) -> Any:
    return evaluate_field(text, data, variables, language="jmespath")


def test_paths_and_projections() -> None:
    assert jmes("items[*].name", ORDERS) == ["a", "b"]
    assert jmes("items[?id > `1`].owner | [0]", ORDERS) == "bob"


def test_wrapped_field_is_unwrapped() -> None:
    assert jmes("${ items[0].id }", ORDERS) == 1


def test_variable_inside_a_filter() -> None:
    assert jmes("items[?owner == $context.user].name", ORDERS, {"context": {"user": "ann"}}) == ["a"]


@pytest.mark.parametrize(
    "name",
    ["context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization", "item"],
)
def test_every_argument_variable(name: str) -> None:
    assert jmes(f"${name}.value[1]", None, {name: {"value": [0, name]}}) == name


def test_missing_variable_is_null() -> None:
    assert jmes("$index", ORDERS, {"item": 1}) is None
    assert jmes("$index", ORDERS) is None


def test_var_function_may_be_called_directly() -> None:
    assert jmes("var('item')", None, {"item": 7}) == 7


def test_dollar_inside_literals_is_left_alone() -> None:
    text = "['$x', \"$y\", `\"$z\"`, $w]"
    rewritten, names = rewrite_variables(text)
    assert names == frozenset({"w"})
    assert rewritten == "['$x', \"$y\", `\"$z\"`, var('w')]"
    data = {"$y": "quoted identifier"}
    assert jmes(text, data, {"w": 1}) == ["$x", "quoted identifier", "$z", 1]


def test_expression_variables() -> None:
    expression = compile_expression("[$a.b, $c, '$d']", "jmespath")
    assert expression.variables == frozenset({"a", "c"})
    assert expression.language == "jmespath"


def test_integers_stay_integers() -> None:
    result = jmes("[items[0].id, length(items), sum(items[*].id)]", ORDERS)
    assert result == [1, 2, 3]
    assert all(type(x) is int for x in result)


def test_compile_error() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("items[?", "jmespath")
    assert info.value.expression == "items[?"
    assert info.value.problem()["status"] == 400


def test_unknown_function_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="Unknown function: nope"):
        jmes("nope(@)", ORDERS)


def test_type_error_at_evaluation() -> None:
    with pytest.raises(ExpressionError, match="invalid type"):
        jmes("length(missing)", ORDERS)


def test_value_positions_in_jmespath() -> None:
    value = {"first": "${ items[0].name }", "who": "${ $item }", "plain": "items"}
    assert evaluate_value(value, ORDERS, {"item": "x"}, language="jmespath") == {
        "first": "a",
        "who": "x",
        "plain": "items",
    }


def test_language_name_is_case_insensitive() -> None:
    assert compile_expression("a", "JMESPath").language == "jmespath"
