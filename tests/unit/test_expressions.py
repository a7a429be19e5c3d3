"""Runtime expressions: wrapping rules, jq evaluation, variables, errors, cache, security."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flunq import expressions
from flunq.errors import ExpressionError
from flunq.expressions import (
    compile_expression,
    evaluate_field,
    evaluate_value,
    find_expressions,
    is_expression,
    unwrap,
)
from flunq.expressions import jq as jq_module

EXPRESSION_ERROR = "https://serverlessworkflow.io/spec/1.0.0/errors/expression"


# --- wrapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["${ .a }", "${.searchQuery}", "  ${ .a }  ", "${\n  .a\n}", '${ "Hello \\(.n)" }']
)
def test_whole_wrapped_strings_are_expressions(text: str) -> None:
    assert is_expression(text)


@pytest.mark.parametrize(
    "value", ["Hello ${ .name }", "${ .a } tail", "${}", "$ {.a}", ".a", "", 1, None, [".a"]]
)
def test_other_values_are_not_expressions(value: object) -> None:
    assert not is_expression(value)


def test_unwrap_strips_the_wrapper_and_keeps_bare_text() -> None:
    assert unwrap("  ${  .a == 1 }  ") == ".a == 1"
    assert unwrap('.color == "red"') == '.color == "red"'
    assert unwrap("Hi ${ .n }") == "Hi ${ .n }"


# --- value positions: strict and loose -----------------------------------------------------


def test_strict_evaluates_only_whole_expression_strings() -> None:
    value = {"a": "${ .x + 1 }", "b": "Hi ${ .x }", "c": ".x", "d": 7, "e": None}
    assert evaluate_value(value, {"x": 1}) == {"a": 2, "b": "Hi ${ .x }", "c": ".x", "d": 7, "e": None}


def test_keys_stay_literal() -> None:
    assert evaluate_value({"${ .k }": "${ .v }"}, {"k": "key", "v": 1}) == {"${ .k }": 1}


def test_nested_values_are_walked_and_unchanged_parts_are_shared() -> None:
    untouched = {"deep": ["plain", 1.5]}
    value = {"list": [{"n": "${ .n }"}, "text"], "same": untouched}
    result = evaluate_value(value, {"n": 3})
    assert result == {"list": [{"n": 3}, "text"], "same": untouched}
    assert result["same"] is untouched
    assert value["list"][0] == {"n": "${ .n }"}  # the definition is not modified


def test_expression_free_value_comes_back_as_the_same_object() -> None:
    value = {"a": [1, "two", {"three": None}], "b": "Hello ${ .name }"}
    assert evaluate_value(value, {"name": "x"}) is value


def test_whole_value_may_be_an_expression() -> None:
    assert evaluate_value("${ $workflow.input[0] }", None, {"workflow": {"input": [5]}}) == 5


def test_loose_tries_every_string_and_keeps_failures() -> None:
    value = {"num": "1", "path": ".x", "word": "hello", "bad": "${ .x.y }", "ok": "${ .x }"}
    assert evaluate_value(value, {"x": 1}, mode="loose") == {
        "num": 1,
        "path": 1,
        "word": "hello",
        "bad": "${ .x.y }",
        "ok": 1,
    }


def test_strict_failure_names_the_nested_location() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate_value({"a": {"b/c": ["ok", "${ .x.y }"]}}, {"x": 1})
    assert info.value.expression == ".x.y"
    assert "Cannot index number" in info.value.message
    assert info.value.message.endswith("(at /a/b~1c/1)")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        evaluate_value("x", None, mode="lenient")


# --- expression-only fields -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "variables", "expected"),
    [
        ('.color == "red"', {"color": "red"}, None, True),
        (".colors", {"colors": ["a", "b"]}, None, ["a", "b"]),
        (".[0]", [{"status": "available"}], None, {"status": "available"}),
        (".user.claims.subject", {"user": {"claims": {"subject": "s"}}}, None, "s"),
        ("{ ids: [ $input, .id ] }", {"id": 2}, {"input": 1}, {"ids": [1, 2]}),
        ("$context + .", {"b": 2}, {"context": {"a": 1}}, {"a": 1, "b": 2}),
        ("${ .colors }", {"colors": ["a"]}, None, ["a"]),
    ],
)
def test_bare_or_wrapped_fields(text: str, data: Any, variables: Any, expected: Any) -> None:
    assert evaluate_field(text, data, variables) == expected


def test_field_holding_an_object_is_evaluated_as_a_value() -> None:
    export_as = {"homeworld": "${ .content.homeworld }"}
    assert evaluate_field(export_as, {"content": {"homeworld": "Tatooine"}}) == {
        "homeworld": "Tatooine"
    }


# --- argument variables ----------------------------------------------------------------------

ARGUMENTS = ["context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization"]


@pytest.mark.parametrize("name", ARGUMENTS)
def test_every_argument_variable(name: str) -> None:
    variables = {other: {"who": other} for other in ARGUMENTS}
    assert evaluate_field(f"${{ ${name}.who }}", None, variables) == name


def test_descriptors_are_reachable() -> None:
    variables = {
        "workflow": {"definition": {"document": {"name": "wf", "version": "1.0.0"}}},
        "task": {"name": "greet", "startedAt": {"epoch": {"seconds": 3}}},
    }
    text = '"\\($workflow.definition.document.name):\\($task.name):\\($task.startedAt.epoch.seconds)"'
    assert evaluate_field(text, None, variables) == "wf:greet:3"


def test_scoped_variables_of_a_for_loop() -> None:
    text = (
        "${ { colors: (.processed.colors + [ $color ]), "
        "indexes: (.processed.indexes + [ $index ])} }"
    )
    data = {"processed": {"colors": ["red"], "indexes": [0]}}
    assert evaluate_value(text, data, {"color": "green", "index": 1}) == {
        "colors": ["red", "green"],
        "indexes": [0, 1],
    }


@pytest.mark.parametrize("name", ["item", "index", "error", "err", "event", "message", "if"])
def test_author_chosen_names(name: str) -> None:
    assert evaluate_field(f"${name}", None, {name: [name]}) == [name]


def test_missing_variables_are_null() -> None:
    assert evaluate_field("[$item, $context]", 1, {"item": 2}) == [2, None]
    assert evaluate_field("$secrets", 1) is None


def test_only_referenced_variables_are_serialised() -> None:
    # An object jq cannot receive would fail the evaluation if it were passed along.
    variables = {"workflow": object(), "input": 4}
    assert evaluate_field("$input + 1", None, variables) == 5
    with pytest.raises(ExpressionError, match="not JSON"):
        evaluate_field("$workflow", None, variables)


def test_referenced_names_are_found_in_code_and_interpolations_only() -> None:
    text = '[$a, "$b", "\\($c) \\("x\\($d)")", .e] # $f\n| $a'
    assert compile_expression(text).variables == frozenset({"a", "c", "d"})
    assert compile_expression("[$ENV, $__loc__, $x]").variables == frozenset({"x"})


# --- results -----------------------------------------------------------------------------------


def test_string_building() -> None:
    data = {"user": {"firstName": "Ada", "lastName": "Lovelace"}}
    text = '${ "Hello \\(.user.firstName) \\(.user.lastName)!" }'
    assert evaluate_value(text, data) == "Hello Ada Lovelace!"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), (".a + 1", 3), ("4 / 2", 2), ("[.a, 1]", [2, 1]), ("length", 2), (".f", 1.5)],
)
def test_integers_stay_integers(text: str, expected: Any) -> None:
    result = evaluate_field(text, {"a": 2, "f": 1.5})
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, list):
        assert [type(x) for x in result] == [int, int]


def test_first_of_several_results() -> None:
    assert evaluate_field(".[]", [3, 4]) == 3
    assert evaluate_field("range(5; 10)", None) == 5
    assert evaluate_field("1, error(\"never reached\")", None) == 1


@pytest.mark.parametrize("text", ["empty", ".[]", "select(false)"])
def test_zero_results_is_an_error(text: str) -> None:
    with pytest.raises(ExpressionError, match="no result") as info:
        evaluate_field(text, [])
    assert info.value.expression == text


# --- errors ------------------------------------------------------------------------------------


def test_compile_error_carries_jq_message_and_problem() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(".a |")
    error = info.value
    assert "syntax error" in error.message
    assert "def env" not in error.message  # the message is about the author's text
    assert error.expression == ".a |"
    assert error.pointer is None
    problem = error.problem("/do/0/greet")
    assert problem["type"] == EXPRESSION_ERROR
    assert problem["status"] == 400
    assert problem["instance"] == "/do/0/greet"
    assert ".a |" in problem["detail"]


def test_undefined_function_is_a_compile_error() -> None:
    with pytest.raises(ExpressionError, match="nosuchfunction/0 is not defined"):
        compile_expression("nosuchfunction")


def test_evaluation_error_carries_jq_message() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate_field(".a.b", {"a": 3})
    assert 'Cannot index number with string ("b")' in info.value.message
    assert info.value.problem()["type"] == EXPRESSION_ERROR


def test_error_builtin_message() -> None:
    with pytest.raises(ExpressionError, match=r"^boom$"):
        evaluate_field('error("boom")', None)


@pytest.mark.parametrize("text", ["", "   ", "${ }"])
def test_empty_expression(text: str) -> None:
    with pytest.raises(ExpressionError, match="empty"):
        evaluate_field(text, None)


def test_unknown_language() -> None:
    with pytest.raises(ExpressionError, match="unsupported expression language 'python'"):
        compile_expression(".a", "python")


def test_text_cannot_close_the_wrapper() -> None:
    with pytest.raises(ExpressionError, match="unbalanced"):
        compile_expression("1) | (2")


# --- cache -------------------------------------------------------------------------------------


@pytest.fixture
def jq_compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every program text handed to libjq, with an empty expression cache."""
    calls: list[str] = []
    real = jq_module._jq.compile

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(jq_module._jq, "compile", counting)
    expressions.clear_cache()
    yield calls
    expressions.clear_cache()


def test_second_compile_returns_the_same_object() -> None:
    assert compile_expression(". + [1]") is compile_expression(". + [1]")


def test_each_text_is_compiled_once(jq_compiles: list[str]) -> None:
    for index in range(5):
        assert evaluate_field("${ $item * 2 }", None, {"item": index}) == index * 2
        assert evaluate_value({"v": "${ $item }"}, None, {"item": index}) == {"v": index}
    assert len(jq_compiles) == 2


def test_failed_compile_is_not_retried(jq_compiles: list[str]) -> None:
    for _ in range(3):
        with pytest.raises(ExpressionError):
            compile_expression(".a |")
    after_first = len(jq_compiles)
    assert after_first >= 1
    with pytest.raises(ExpressionError):
        compile_expression(".a |")
    assert len(jq_compiles) == after_first


def test_languages_are_cached_apart() -> None:
    jq_expr = compile_expression("length")
    jmes_expr = compile_expression("length", "jmespath")
    assert (jq_expr.language, jmes_expr.language) == ("jq", "jmespath")
    assert jq_expr is not jmes_expr
    assert compile_expression("length", "jmespath") is jmes_expr


# --- security ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$ENV", {}), ("env", {}), ("$ENV.HOME", None), ("env.PATH", None), ("$ENV | length", 0),
     ("def f: $ENV; f", {}), ("[env, $ENV] | map(keys)", [[], []])],
)
def test_environment_is_hidden(text: str, expected: Any) -> None:
    assert evaluate_field(text, None) == expected


@pytest.mark.parametrize(
    "text", ['include "x"; .', 'import "x" as x; .', 'import "x" as $x; .', 'include @text "x"; .']
)
def test_module_directives_are_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="not allowed"):
        compile_expression(text)


def test_keyword_keys_and_fields_are_fine() -> None:
    assert evaluate_field("{import: .include, include: 2}", {"include": 1}) == {
        "import": 1,
        "include": 2,
    }


@pytest.mark.parametrize(
    "text",
    ["halt", "halt_error", '"bye" | halt_error', "halt_error(1)", "input", "[inputs]",
     "input_filename", '"m" | modulemeta', "get_search_list", "$__prog_args"],
)
def test_escapes_are_expression_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_field(text, {"a": 1})


def test_debug_is_silent_identity(capfd: pytest.CaptureFixture[str]) -> None:
    assert evaluate_field("debug | stderr | debug(\"m\") | .a", {"a": 1}) == 1
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("text", [".a # comment \\", ".a # comment", "# leading\n.a"])
def test_comments_cannot_swallow_the_wrapper(text: str) -> None:
    assert evaluate_field(text, {"a": 1}) == 1


def test_nul_character_is_refused() -> None:
    with pytest.raises(ExpressionError, match="NUL"):
        compile_expression(".a\x00 | $ENV")


# --- find_expressions --------------------------------------------------------------------------


def test_find_expressions_pointers() -> None:
    value = {
        "a": ["${ .x }", "plain", {"b~/c": "${.y}"}],
        "${ key }": "literal",
        "n": 3,
        "z": "  ${ $item }  ",
    }
    assert list(find_expressions(value)) == [
        ("/a/0", ".x"),
        ("/a/2/b~0~1c", ".y"),
        ("/z", "$item"),
    ]


def test_find_expressions_at_the_root() -> None:
    assert list(find_expressions("${ . }")) == [("", ".")]
    assert list(find_expressions("text")) == []
