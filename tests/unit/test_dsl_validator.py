"""Semantic checks: what passes, and where each kind of problem is reported."""

from __future__ import annotations

import textwrap

import pytest

from flunq.dsl import load, validate
from flunq.dsl.builder import build_workflow
from flunq.dsl.expression_checks import BARE_FIELDS
from flunq.dsl.references import secret_uses
from flunq.errors import DefinitionError, DefinitionErrors

HEADER = "document: {dsl: '1.0.3', namespace: ns, name: wf, version: '1.0.0'}\n"


def doc(body: str) -> str:
    return HEADER + textwrap.dedent(body)


def problems(body: str) -> list[tuple[str, str]]:
    """(pointer, message) of every problem of the document; [] when it is valid."""
    try:
        load(doc(body))
    except DefinitionErrors as exc:
        return [(e.pointer or "", e.message) for e in exc.errors]
    except DefinitionError as exc:
        return [(exc.pointer or "", exc.message)]
    return []


def test_every_reference_kind_resolves() -> None:
    assert problems(
        """
        use:
          authentications:
            petAuth: {bearer: {token: '${ $secrets.petToken }'}}
            fromSecret: {oauth2: {use: oauthConfig}}
          errors:
            gone: {type: https://example.com/gone, status: 410}
          functions:
            getPet:
              call: http
              with: {method: get, endpoint: {uri: 'https://pets.example/{id}', authentication: {use: petAuth}}}
            getTwice:
              do:
                - first: {call: getPet}
                - second: {call: getPet}
          retries:
            quick: {delay: PT1S, limit: {attempt: {count: 3, duration: PT10S}, duration: PT1M}}
          secrets: [petToken, oauthConfig, 'api-key']
          timeouts:
            short: {after: {seconds: 5, milliseconds: 250}}
          catalogs:
            shared: {endpoint: https://catalog.example}
        timeout: short
        do:
          - fetch:
              timeout: short
              try:
                - pet: {call: getTwice}
                - viaCatalog: {call: 'log:1.0.0@shared'}
                - viaDefault: {call: 'log:1.0.0@default'}
                - viaUri: {call: 'https://functions.example/log/function.yaml'}
                - quoted: {set: {key: '${ $secrets["api-key"] }', other: '${ $secrets."petToken" }'}}
              catch:
                retry: quick
                do:
                  - fail: {raise: {error: gone}}
        """
    ) == []


def test_secret_uses_are_found_only_when_static() -> None:
    assert list(secret_uses('$secrets.a + $secrets["b"] + $secrets."c" + $secrets . d')) == [
        "a",
        "b",
        "c",
        "d",
    ]
    assert list(secret_uses("$secrets[.name] | keys")) == []


@pytest.mark.parametrize(
    ("snippet", "pointer"),
    [
        ("- t: {if: '.a ==', set: {x: 1}}", "/do/0/t/if"),
        ("- t: {switch: [{c: {when: '.a ==', then: exit}}]}", "/do/0/t/switch/0/c/when"),
        ("- t: {for: {in: '.a[', each: i}, do: [{s: {set: {x: 1}}}]}", "/do/0/t/for/in"),
        ("- t: {for: {in: .a}, while: '.a ==', do: [{s: {set: {x: 1}}}]}", "/do/0/t/while"),
        ("- t: {set: {x: 1}, input: {from: '.a |'}}", "/do/0/t/input/from"),
        ("- t: {set: {x: 1}, output: {as: '.a |'}}", "/do/0/t/output/as"),
        ("- t: {set: {x: 1}, export: {as: '.a |'}}", "/do/0/t/export/as"),
        ("- t: {set: {x: 1}, export: {as: {k: '${ .a | }'}}}", "/do/0/t/export/as/k"),
        ("- t: {try: [{s: {set: {x: 1}}}], catch: {when: '.a =='}}", "/do/0/t/catch/when"),
        ("- t: {try: [{s: {set: {x: 1}}}], catch: {exceptWhen: '.a =='}}", "/do/0/t/catch/exceptWhen"),
        ("- t: {try: [{s: {set: {x: 1}}}], catch: {retry: {when: '.a =='}}}", "/do/0/t/catch/retry/when"),
        (
            "- t: {try: [{s: {set: {x: 1}}}], catch: {retry: {exceptWhen: '.a =='}}}",
            "/do/0/t/catch/retry/exceptWhen",
        ),
        ("- t: {listen: {to: {any: [], until: '.a =='}}}", "/do/0/t/listen/to/until"),
        (
            "- t: {listen: {to: {one: {with: {type: x}, correlate: {k: {from: '.a =='}}}}}}",
            "/do/0/t/listen/to/one/correlate/k/from",
        ),
        (
            "- t: {listen: {to: {one: {with: {type: x}, correlate: {k: {from: .a, expect: '${ ( }'}}}}}}",
            "/do/0/t/listen/to/one/correlate/k/expect",
        ),
        (
            "- t: {emit: {event: {with: {source: 'https://a.example', type: x, data: '${ {a: } }'}}}}",
            "/do/0/t/emit/event/with/data",
        ),
        ("- t: {wait: '${ .a | }'}", "/do/0/t/wait"),
    ],
)
def test_each_expression_field_is_compiled(snippet: str, pointer: str) -> None:
    found = problems("do:\n  " + snippet + "\n")
    assert [p for p, _ in found] == [pointer]
    assert found[0][1].startswith("invalid jq expression")


def test_extension_and_asyncapi_expressions_are_compiled() -> None:
    found = problems(
        """
        use:
          extensions:
            - mock: {extend: call, when: '$task.call =='}
        do:
          - sub:
              call: asyncapi
              with:
                document: {endpoint: https://api.example/asyncapi.json}
                operation: onMessage
                subscription:
                  filter: '${ .a | }'
                  consume: {while: '${ .b == }'}
        """
    )
    assert [p for p, _ in found] == [
        "/use/extensions/0/mock/when",
        "/do/0/sub/with/subscription/filter",
        "/do/0/sub/with/subscription/consume/while",
    ]


def test_bare_fields_accept_wrapped_and_unwrapped_expressions() -> None:
    assert problems(
        """
        do:
          - a: {if: .ok, set: {x: 1}}
          - b: {if: '${ .ok }', set: {x: 1}}
          - c:
              listen:
                to:
                  one:
                    with: {type: x}
                    correlate: {k: {from: .id, expect: 'not jq ('}}
          - d: {set: {x: 1}, output: {as: {plain: 'not jq (', wrapped: '${ .x }'}}}
        """
    ) == []


def test_bare_field_list_covers_every_expression_only_field() -> None:
    names = {(cls.__name__, field) for cls, field in BARE_FIELDS}
    assert len(names) == 16
    assert ("Correlation", "from_") in names and ("Extension", "when") in names


def test_jmespath_workflows_compile_jmespath() -> None:
    body = """
        evaluate: {language: jmespath}
        do:
          - pick: {set: {names: '${ people[?age > `30`].name }'}, if: 'length(people) > `0`'}
        """
    assert problems(body) == []
    jq_only = body.replace("'${ people[?age > `30`].name }'", "'${ .people | map(.name) }'")
    assert problems(jq_only)[0][1].startswith("invalid jmespath expression")


def test_then_checks_in_every_kind_of_task_list() -> None:
    found = problems(
        """
        use:
          extensions:
            - mock:
                extend: call
                before:
                  - stub: {set: {x: 1}, then: nowhere}
        do:
          - split:
              fork:
                branches:
                  - left: {set: {x: 1}, then: right}
                  - right: {set: {x: 2}, then: up}
          - guard:
              try:
                - work: {set: {x: 1}, then: guard}
              catch:
                do:
                  - recover: {set: {x: 1}, then: exit}
          - loop:
              for: {in: .items}
              do:
                - step: {set: {x: 1}, then: step}
        """
    )
    assert found == [
        (
            "/use/extensions/0/mock/before/0/stub/then",
            "then target 'nowhere' does not exist in this task list (tasks: stub)",
        ),
        (
            "/do/0/split/fork/branches/1/right/then",
            "then target 'up' does not exist in this task list (tasks: left, right)",
        ),
        (
            "/do/1/guard/try/0/work/then",
            "then target 'guard' does not exist in this task list (tasks: work)",
        ),
    ]


def test_long_task_lists_are_cut_in_messages() -> None:
    tasks = "".join(f"  - task{i}: {{set: {{x: {i}}}}}\n" for i in range(15))
    found = problems("do:\n" + tasks + "  - last: {set: {x: 1}, then: nowhere}\n")
    assert found == [
        (
            "/do/15/last/then",
            "then target 'nowhere' does not exist in this task list (tasks: "
            + ", ".join(f"task{i}" for i in range(12))
            + ", ...)",
        )
    ]


def test_switch_with_one_default_anywhere_is_fine() -> None:
    assert problems(
        """
        do:
          - pick:
              switch:
                - fallback: {then: done}
                - red: {when: .red, then: exit}
          - done: {set: {x: 1}}
        """
    ) == []


@pytest.mark.parametrize(
    ("snippet", "pointer", "message"),
    [
        (
            "schedule: {every: {days: 1, hours: -2}}\ndo: []",
            "/schedule/every",
            "duration part 'hours' must not be negative (-2)",
        ),
        (
            "schedule: {after: P1X}\ndo: []",
            "/schedule/after",
            "invalid duration 'P1X': expected an ISO 8601 duration such as PT30S, "
            "an object such as {seconds: 30}, or a ${ } expression",
        ),
        (
            "use: {timeouts: {t: {after: 5m}}}\ndo: []",
            "/use/timeouts/t/after",
            "invalid duration '5m': expected an ISO 8601 duration such as PT30S, "
            "an object such as {seconds: 30}, or a ${ } expression",
        ),
        (
            "use: {retries: {r: {jitter: {from: PT1S, to: 2S}}}}\ndo: []",
            "/use/retries/r/jitter/to",
            "invalid duration '2S': expected an ISO 8601 duration such as PT30S, "
            "an object such as {seconds: 30}, or a ${ } expression",
        ),
        (
            "do:\n  - t: {call: http, with: {method: get, endpoint: {uri: 'pets/{id}'}}}",
            "/do/0/t/with/endpoint/uri",
            "endpoint 'pets/{id}' is neither a URI with a scheme (such as https://...) "
            "nor a ${ } expression",
        ),
        (
            "do:\n  - t: {listen: {to: {any: []}}, foreach: {item: ev, at: ev}}",
            "/do/0/t/foreach/at",
            "foreach.item and foreach.at must be different names (both are 'ev')",
        ),
        (
            "do:\n  - t: {listen: {to: {any: []}}, foreach: {item: 2nd}}",
            "/do/0/t/foreach/item",
            "'2nd' is not a valid variable name: use letters, digits and '_', not starting with a digit",
        ),
        (
            "schedule: {}\ndo: []",
            "/schedule",
            "a schedule takes exactly one of every, cron, after, on (found none)",
        ),
    ],
)
def test_value_checks(snippet: str, pointer: str, message: str) -> None:
    assert problems(snippet + "\n") == [(pointer, message)]


def test_durations_and_endpoints_that_pass() -> None:
    assert problems(
        """
        schedule: {every: P1Y2M3W4DT5H6M7.5S}
        do:
          - a: {wait: '${ "PT\\(.seconds)S" }'}
          - b: {wait: {milliseconds: 0}}
          - c: {call: http, with: {method: get, endpoint: '${ .url }'}}
          - d: {call: grpc, with: {proto: {endpoint: 'file://app/greet.proto'}, service: {name: G, host: localhost}, method: Hi}}
          - e:
              for: {in: .items, each: _item2, at: i}
              do:
                - f: {set: {x: '${ $_item2 }'}}
        """
    ) == []


def test_validate_runs_on_a_model_built_elsewhere() -> None:
    data = {
        "document": {"dsl": "1.0.9", "namespace": "ns", "name": "wf", "version": "1.0.0"},
        "do": [{"a": {"set": {"x": 1}, "then": "b"}}],
    }
    workflow = build_workflow(data)
    for given in (None, data):
        with pytest.raises(DefinitionErrors) as caught:
            validate(workflow, given)
        assert [(e.pointer, e.line) for e in caught.value.errors] == [
            ("/document/dsl", None),
            ("/do/0/a/then", None),
        ]


def test_every_supported_dsl_version_loads() -> None:
    for version in ("1.0.0", "1.0.1", "1.0.2", "1.0.3"):
        text = HEADER.replace("1.0.3", version) + "do: []\n"
        assert load(text).workflow.document.dsl == version
