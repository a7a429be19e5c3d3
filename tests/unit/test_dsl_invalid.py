"""Hand-written invalid documents in ``tests/unit/invalid/``: one per rule.

Each is rejected with exactly one problem, whose message (exact, or a prefix when the
expected text ends with "..."), JSON pointer and line:column are checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flunq.dsl import load_file
from flunq.errors import DefinitionError, DefinitionErrors

HERE = Path(__file__).resolve().parent / "invalid"

#: file -> ("LINE:COL", pointer, message)
EXPECTED: dict[str, tuple[str, str, str]] = {
    # --- reading the text ---------------------------------------------------------------
    "duplicate-key.yaml": ("5:3", "/document/name", "duplicate key 'name' (first defined at line 4, column 3)"),
    "tab-indentation.yaml": (
        "7:1",
        "/do",
        "invalid YAML: found character '\\t' that cannot start any token (while scanning for the next token)",
    ),
    "python-tag.yaml": ("9:12", "/do/0/a/set/x", "unsupported YAML tag !!python/object/apply:os.system"),
    "complex-key.yaml": ("9:11", "/do/0/a/set", "a mapping key must be a string, not a sequence"),
    "not-a-number.yaml": ("9:12", "/do/0/a/set/x", ".NaN is not a JSON number (NaN and infinities are not allowed)"),
    "two-documents.yaml": ("7:1", "", "a workflow file must hold exactly one YAML document; found a second one"),
    "recursive-alias.yaml": ("9:14", "/do/0/a/do/0/b", "alias *task refers to a node that contains it"),
    "trailing-comma.json": ("4:27", "/do/0/a/set", "invalid JSON: expected a property name in double quotes"),
    # --- shape (schema) -------------------------------------------------------------------
    "root-sequence.yaml": ("1:1", "", "a workflow document must be a mapping, not a sequence"),
    "missing-document.yaml": ("1:1", "", "missing required property `document`"),
    "unknown-property.yaml": ("12:7", "/do/0/getPet/foo", "unknown property `foo`"),
    "unknown-task-type.yaml": (
        "7:5",
        "/do/0/a",
        "unknown task type: expected one of the keys call, for, do, fork, emit, listen, raise, "
        "run, set, switch, try, wait; found `print`",
    ),
    "two-tasks-in-one-item.yaml": (
        "7:5",
        "/do/0",
        "each task list item must be a mapping with exactly one key (the task name), not a mapping with 2 keys",
    ),
    # --- header -----------------------------------------------------------------------------
    "dsl-version-unsupported.yaml": (
        "2:3",
        "/document/dsl",
        "unsupported DSL version '2.0.0': Flunq runs Serverless Workflow 1.0.0 to 1.0.3",
    ),
    "expression-language-unsupported.yaml": (
        "7:3",
        "/evaluate/language",
        "unsupported expression language 'javascript': use jq (the default) or jmespath",
    ),
    # --- task lists and flow --------------------------------------------------------------
    "duplicate-task-name.yaml": (
        "11:5",
        "/do/2/step",
        "duplicate task name 'step' in this task list (first at /do/0/step)",
    ),
    "then-target-missing.yaml": (
        "9:7",
        "/do/0/setRed/then",
        "then target 'setGreen' does not exist in this task list (tasks: setRed, setBlue)",
    ),
    "then-target-other-list.yaml": (
        "11:13",
        "/do/0/outer/do/0/inner/then",
        "then target 'finish' does not exist in this task list (tasks: inner)",
    ),
    "switch-then-missing.yaml": (
        "13:13",
        "/do/0/pick/switch/1/other/then",
        "then target 'paintBlue' does not exist in this task list (tasks: pick, paintRed); "
        "did you mean 'paintRed'?",
    ),
    "switch-two-defaults.yaml": (
        "14:11",
        "/do/0/pick/switch/2/another",
        "switch has more than one default case (a case without 'when'): 'fallback' and 'another'",
    ),
    "switch-item-two-cases.yaml": (
        "9:11",
        "/do/0/pick/switch/0",
        "each switch item must be a mapping with exactly one case (name: {when, then}), not 2 keys",
    ),
    "task-named-end.yaml": (
        "9:5",
        "/do/1/end",
        "a task cannot be named 'end': `then: end` is a flow directive and would never reach it",
    ),
    "function-then-target.yaml": (
        "10:7",
        "/use/functions/greet/then",
        "then target 'farewell' cannot be used here: a function has no sibling tasks "
        "(use continue, exit or end)",
    ),
    # --- references to `use` ------------------------------------------------------------
    "authentication-missing.yaml": (
        "19:13",
        "/do/0/getPet/with/endpoint/authentication/use",
        "authentication 'petstore' is not defined in use.authentications (defined: petStore)",
    ),
    "authentication-missing-grpc.yaml": (
        "17:13",
        "/do/0/greet/with/service/authentication/use",
        "authentication 'grpcAuth' is not defined in use.authentications (none defined)",
    ),
    "reusable-authentication-reference.yaml": (
        "13:7",
        "/use/authentications/alias/use",
        "a reusable authentication cannot refer to another one (use: main); "
        "define it with basic, bearer, digest, oauth2 or oidc",
    ),
    "secret-missing-in-scheme.yaml": (
        "17:15",
        "/do/0/getPet/with/endpoint/authentication/basic/use",
        "secret 'petstoreCredentials' is not declared in use.secrets (declared: apiToken)",
    ),
    "secret-missing-in-expression.yaml": (
        "11:9",
        "/do/0/getPet/set/token",
        "secret 'apiKey' is not declared in use.secrets (declared: apiToken)",
    ),
    "secret-declared-twice.yaml": ("10:7", "/use/secrets/2", "secret 'apiToken' is declared twice"),
    "error-missing.yaml": (
        "14:9",
        "/do/0/fail/raise/error",
        "error 'notAvailable' is not defined in use.errors (defined: notFound)",
    ),
    "function-missing.yaml": (
        "8:7",
        "/do/0/greet/call",
        "function 'sayHello' is not defined in use.functions (none defined); a call must be http, "
        "openapi, grpc, asyncapi, a2a, mcp, a function name, name:version@catalog or a URI",
    ),
    "function-cycle.yaml": (
        "8:5",
        "/use/functions/retryForever",
        "function 'retryForever' calls itself (retryForever -> retryForever)",
    ),
    "catalog-missing.yaml": (
        "12:7",
        "/do/0/log/call",
        "catalog 'global' is not defined in use.catalogs (defined: shared); "
        "only the runtime's 'default' catalog needs no definition",
    ),
    "retry-missing.yaml": (
        "16:9",
        "/do/0/attempt/catch/retry",
        "retry policy 'defualt' is not defined in use.retries (defined: default)",
    ),
    "timeout-missing.yaml": (
        "10:1",
        "/timeout",
        "timeout 'long' is not defined in use.timeouts (defined: short)",
    ),
    # --- values -------------------------------------------------------------------------
    "duration-invalid.yaml": (
        "8:7",
        "/do/0/pause/wait",
        "invalid duration '5 seconds': expected an ISO 8601 duration such as PT30S, "
        "an object such as {seconds: 30}, or a ${ } expression",
    ),
    "duration-negative.yaml": (
        "13:11",
        "/do/0/attempt/catch/retry/delay",
        "duration part 'seconds' must not be negative (-1)",
    ),
    "endpoint-not-uri.yaml": (
        "11:9",
        "/do/0/getPet/with/endpoint",
        "endpoint 'petstore.example/pet/1' is neither a URI with a scheme (such as https://...) "
        "nor a ${ } expression",
    ),
    "cron-invalid.yaml": ("7:3", "/schedule/cron", "invalid cron expression '0 25 * * *'"),
    "schedule-two-kinds.yaml": (
        "6:1",
        "/schedule",
        "a schedule takes exactly one of every, cron, after, on (found every, cron)",
    ),
    "variable-name-invalid.yaml": (
        "9:9",
        "/do/0/loop/for/each",
        "'my-item' is not a valid variable name: use letters, digits and '_', not starting with a digit",
    ),
    "for-each-equals-at.yaml": (
        "10:9",
        "/do/0/loop/for/at",
        "for.each and for.at must be different names (both are 'pet')",
    ),
    "variable-hides-argument.yaml": (
        "12:9",
        "/do/0/attempt/catch/as",
        "variable name 'input' would hide the runtime argument $input; choose another name",
    ),
    # --- expressions --------------------------------------------------------------------
    "expression-syntax.yaml": (
        "9:9",
        "/do/0/compute/set/total",
        "invalid jq expression '.items | map(.price) | add +': jq: error: syntax error...",
    ),
    "bare-expression-syntax.yaml": (
        "8:7",
        "/do/0/maybe/if",
        "invalid jq expression '.enabled ==': jq: error: syntax error...",
    ),
    "jmespath-expression-syntax.yaml": (
        "11:9",
        "/do/0/compute/set/names",
        "invalid jmespath expression 'people[?age > `30`].name | [0': ...",
    ),
}


def test_each_file_has_an_expectation() -> None:
    files = {p.name for p in HERE.iterdir() if p.is_file()}
    assert files == set(EXPECTED)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rejected_with_the_expected_located_message(name: str) -> None:
    where, pointer, message = EXPECTED[name]
    with pytest.raises(DefinitionError) as caught:
        load_file(HERE / name)
    errors = caught.value.errors if isinstance(caught.value, DefinitionErrors) else [caught.value]
    assert len(errors) == 1, [e.located() for e in errors]
    error = errors[0]
    assert f"{error.line}:{error.column}" == where
    assert error.pointer == pointer
    if message.endswith("..."):
        assert error.message.startswith(message[:-3]), error.message
    else:
        assert error.message == message
    shown_pointer = pointer or "/"
    assert error.located() == f"{HERE / name}:{where}: {error.message} - at {shown_pointer}"
