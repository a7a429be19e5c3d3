"""URI templates: RFC 6570 simple string expansion with the DSL's variable rules (§18)."""

from __future__ import annotations

import pytest

from flunq.errors import ExpressionError
from flunq.interpreter.uritemplate import expand, render_scalar, variables_of

PET = "https://petstore.swagger.io/v2/pet/{petId}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (1.0, "1"),  # jq may hand integers over as floats
        (2.5, "2.5"),
        (-3, "-3"),
        (True, "true"),
        (False, "false"),
        ("doggie", "doggie"),
    ],
)
def test_scalars_render_json_style(value: object, expected: str) -> None:
    assert expand(PET, {"petId": value}) == f"https://petstore.swagger.io/v2/pet/{expected}"


def test_missing_and_null_variables_expand_to_nothing() -> None:
    assert expand(PET, {}) == "https://petstore.swagger.io/v2/pet/"
    assert expand(PET, {"petId": None}) == "https://petstore.swagger.io/v2/pet/"


@pytest.mark.parametrize("value", [{"id": 1}, [1, 2]])
def test_non_scalar_values_are_expression_errors(value: object) -> None:
    with pytest.raises(ExpressionError) as caught:
        expand(PET, {"petId": value})
    assert "petId" in caught.value.message
    assert caught.value.expression == PET
    assert caught.value.problem()["status"] == 400


@pytest.mark.parametrize("scope", [1, "text", [1, 2], None, True])
def test_a_non_object_input_has_no_variables(scope: object) -> None:
    assert expand(PET, scope) == "https://petstore.swagger.io/v2/pet/"
    assert expand("https://petstore.swagger.io/v2/pet/2", scope) == "https://petstore.swagger.io/v2/pet/2"


def test_variable_names_are_top_level_keys_taken_verbatim() -> None:
    scope = {"pet.id": 7, "pet": {"id": 8}}
    assert expand("https://x/{pet.id}", scope) == "https://x/7"


def test_values_are_percent_encoded_like_simple_expansion() -> None:
    scope = {"v": "a b/c?d&e=%f~g_h-i.j", "u": "café"}
    assert expand("https://x/{v}", scope) == "https://x/a%20b%2Fc%3Fd%26e%3D%25f~g_h-i.j"
    assert expand("https://x/{u}", scope) == "https://x/caf%C3%A9"


def test_expansion_works_in_query_strings_and_keeps_literal_text() -> None:
    template = "https://petstore.swagger.io/v2/pet/findByStatus?status={status}&limit={limit}"
    assert (
        expand(template, {"status": "available", "limit": 10})
        == "https://petstore.swagger.io/v2/pet/findByStatus?status=available&limit=10"
    )
    assert variables_of(template) == ["status", "limit"]


def test_render_scalar_rejects_what_json_cannot_say() -> None:
    assert render_scalar(None) == ""
    with pytest.raises(TypeError):
        render_scalar(float("nan"))
    with pytest.raises(TypeError):
        render_scalar({"a": 1})
