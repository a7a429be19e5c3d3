"""``call``: the ``Perform`` commands of http, openapi and other protocols; functions from
``use.functions``; effect results and failures."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from interpreter_helpers import Driver, definition, error_type, run

from flunq.interpreter import Env
from flunq.interpreter.protocol import Perform

C = "/do/0/c"


def call(with_: str, data: Any = None, env: Env | None = None, use: str = "") -> Driver:
    """Start a workflow whose only task ``c`` is ``call: http`` with ``with_`` (YAML lines
    indented for the ``with`` mapping)."""
    head = f"use:\n{use}" if use else ""
    return run(f"{head}do:\n  - c:\n      call: http\n      with:\n{with_}", data, env=env)


def http_args(d: Driver) -> dict[str, Any]:
    perform = d.perform()
    assert (perform.effect_id, perform.kind, perform.task) == (C, "http", C)
    return perform.args


def test_http_call_performs_a_request_and_waits() -> None:
    d = call("        method: get\n        endpoint: https://example.com/pets\n")
    assert http_args(d) == {"method": "get", "uri": "https://example.com/pets", "output": "content", "redirect": False}
    assert d.status == "running"
    assert d.st.inflight[C] == d.perform()


def test_http_result_is_the_task_output() -> None:
    d = call("        method: get\n        endpoint: https://example.com/pets\n")
    step = d.complete(C, {"pets": ["rex"]})
    assert step.commands == []
    assert (d.status, d.output) == ("completed", {"pets": ["rex"]})


def test_http_failure_faults_the_task_with_the_effect_error() -> None:
    d = call("        method: get\n        endpoint: https://example.com/pets\n")
    error = {"type": error_type("communication"), "status": 404, "title": "Not Found"}
    d.fail(C, error)
    assert d.error == {**error, "instance": C}


def test_uri_template_expands_from_the_top_level_keys_of_the_input() -> None:
    d = call(
        "        method: get\n        endpoint: https://example.com/pets/{petId}?tag={tag}&x={missing}\n",
        {"petId": 42, "tag": "a b/c", "pet": {"petId": 1}},
    )
    assert http_args(d)["uri"] == "https://example.com/pets/42?tag=a%20b%2Fc&x="


def test_uri_template_with_an_object_value_is_an_expression_error() -> None:
    d = call("        method: get\n        endpoint: https://example.com/{pet}\n", {"pet": {"id": 1}})
    assert d.status == "faulted"
    assert d.error is not None
    assert (d.error["type"], d.error["status"], d.error["instance"]) == (error_type("expression"), 400, C)


def test_endpoint_expression_and_endpoint_object() -> None:
    d = call("        method: get\n        endpoint: '${ \"https://example.com/\" + .path }'\n", {"path": "a/b"})
    assert http_args(d)["uri"] == "https://example.com/a/b"
    d = call("        method: get\n        endpoint:\n          uri: https://example.com/{id}\n", {"id": "x"})
    assert http_args(d)["uri"] == "https://example.com/x"


def test_endpoint_expression_giving_a_non_string_is_an_expression_error() -> None:
    d = call("        method: get\n        endpoint: '${ .port }'\n", {"port": 80})
    assert d.error is not None
    assert d.error["detail"] == "an endpoint expression must give a URI string, got 80"


def test_headers_and_query_maps_with_expressions_are_evaluated_to_strings() -> None:
    d = call(
        "        method: get\n        endpoint: https://example.com/\n"
        "        headers:\n          X-Id: '${ .id }'\n          Accept: application/json\n"
        "        query:\n          page: '${ .page }'\n          flag: '${ .flag }'\n",
        {"id": "i-1", "page": 3, "flag": True},
    )
    args = http_args(d)
    assert args["headers"] == {"X-Id": "i-1", "Accept": "application/json"}
    assert args["query"] == {"page": "3", "flag": "true"}


def test_headers_and_query_as_single_expressions() -> None:
    d = call(
        "        method: get\n        endpoint: https://example.com/\n"
        "        headers: '${ .h }'\n        query: '${ {q: .q} }'\n",
        {"h": {"X-A": "1"}, "q": "term"},
    )
    args = http_args(d)
    assert (args["headers"], args["query"]) == ({"X-A": "1"}, {"q": "term"})


def test_headers_expression_giving_a_non_object_is_an_expression_error() -> None:
    d = call("        method: get\n        endpoint: https://example.com/\n        headers: '${ .h }'\n", {"h": [1]})
    assert d.error is not None
    assert d.error["detail"] == "headers must evaluate to an object, got [1]"


def test_body_is_evaluated_recursively() -> None:
    d = call(
        "        method: post\n        endpoint: https://example.com/\n"
        "        body:\n          name: '${ .name }'\n          tags: ['${ .tag }', fixed]\n          n: 1\n",
        {"name": "rex", "tag": "dog"},
    )
    assert http_args(d)["body"] == {"name": "rex", "tags": ["dog", "fixed"], "n": 1}


def test_output_mode_and_redirect_pass_through() -> None:
    d = call("        method: get\n        endpoint: https://example.com/\n        output: raw\n        redirect: true\n")
    args = http_args(d)
    assert (args["output"], args["redirect"]) == ("raw", True)
    d = call("        method: get\n        endpoint: https://example.com/\n        output: response\n")
    assert http_args(d)["output"] == "response"


def endpoint_with_auth(auth: str) -> str:
    return f"        method: get\n        endpoint:\n          uri: https://example.com/\n          authentication:\n{auth}"


def test_inline_basic_auth_with_expressions() -> None:
    d = call(
        endpoint_with_auth("            basic:\n              username: '${ .user }'\n              password: secret\n"),
        {"user": "ann"},
    )
    assert http_args(d)["authentication"] == {"basic": {"username": "ann", "password": "secret"}}


def test_inline_bearer_and_digest_auth() -> None:
    d = call(endpoint_with_auth("            bearer:\n              token: abc\n"))
    assert http_args(d)["authentication"] == {"bearer": {"token": "abc"}}
    d = call(endpoint_with_auth("            digest:\n              username: u\n              password: p\n"))
    assert http_args(d)["authentication"] == {"digest": {"username": "u", "password": "p"}}


def test_referenced_authentication_policy() -> None:
    d = call(
        endpoint_with_auth("            use: petstore\n"),
        use="  authentications:\n    petstore:\n      bearer:\n        token: '${ .t }'\n",
        data={"t": "from-input"},
    )
    assert http_args(d)["authentication"] == {"bearer": {"token": "from-input"}}


def test_secret_based_authentication_takes_the_secrets_properties_verbatim() -> None:
    env = Env(secrets={"creds": {"username": "u", "password": "${ .notEvaluated }"}})
    d = call(
        endpoint_with_auth("            basic:\n              use: creds\n"),
        use="  secrets: [creds]\n",
        env=env,
    )
    assert http_args(d)["authentication"] == {"basic": {"username": "u", "password": "${ .notEvaluated }"}}


def test_missing_secret_is_an_authorization_error() -> None:
    d = call(endpoint_with_auth("            bearer:\n              use: creds\n"), use="  secrets: [creds]\n")
    assert d.error == {
        "type": error_type("authorization"),
        "status": 403,
        "title": "Authorization Error",
        "detail": "secret 'creds' is missing or is not an object",
        "instance": C,
    }
    assert d.performs() == []


def test_secrets_in_auth_expressions() -> None:
    d = call(
        endpoint_with_auth("            bearer:\n              token: '${ $secrets.api.token }'\n"),
        use="  secrets: [api]\n",
        env=Env(secrets={"api": {"token": "s3cr3t"}}),
    )
    assert http_args(d)["authentication"] == {"bearer": {"token": "s3cr3t"}}


def test_authorization_variable_is_available_to_output_as() -> None:
    d = run(
        """
        do:
          - c:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://example.com/
                  authentication:
                    basic: {username: ann, password: pw}
              output:
                as: '${ {auth: $authorization, body: .} }'
        """
    )
    d.complete(C, "ok")
    assert d.output == {
        "auth": {"scheme": "Basic", "parameter": base64.b64encode(b"ann:pw").decode()},
        "body": "ok",
    }


def test_openapi_call_arguments() -> None:
    d = run(
        """
        use:
          authentications:
            key:
              bearer: {token: t0k}
        do:
          - c:
              call: openapi
              with:
                document:
                  endpoint: https://petstore.example.com/v2/swagger.json
                operationId: findPetsByStatus
                parameters:
                  status: '${ .status }'
                  limit: 5
                authentication:
                  use: key
                output: response
        """,
        {"status": "available"},
    )
    perform = d.perform()
    assert (perform.effect_id, perform.kind) == (C, "openapi")
    assert perform.args == {
        "document": {"uri": "https://petstore.example.com/v2/swagger.json"},
        "operationId": "findPetsByStatus",
        "parameters": {"status": "available", "limit": 5},
        "output": "response",
        "redirect": False,
        "authentication": {"bearer": {"token": "t0k"}},
    }


def test_grpc_call_sends_the_evaluated_with() -> None:
    d = run(
        """
        do:
          - c:
              call: grpc
              with:
                proto:
                  endpoint: file://app/greet.proto
                service:
                  name: GreeterApi.Greeter
                  host: localhost
                  port: 5011
                method: SayHello
                arguments:
                  name: '${ .user }'
        """,
        {"user": "ann"},
    )
    perform = d.perform()
    assert perform.kind == "grpc"
    assert perform.args == {
        "proto": {"endpoint": "file://app/greet.proto"},
        "service": {"name": "GreeterApi.Greeter", "host": "localhost", "port": 5011},
        "method": "SayHello",
        "arguments": {"name": "ann"},
    }


FUNCTIONS = """
use:
  functions:
    getPet:
      input:
        schema:
          document: {type: object, required: [petId]}
      call: http
      with:
        method: get
        endpoint: https://example.com/pets/{petId}
      output:
        as: .name
    double:
      set: '${ {value: (.n * 2), item: $item} }'
do:
  - c:
      call: getPet
      with:
        petId: '${ .id }'
"""


def test_function_call_runs_the_function_task_with_the_evaluated_with_as_input() -> None:
    d = run(FUNCTIONS, {"id": 3})
    perform = d.perform()
    assert perform.effect_id == "/do/0/c/call/0/getPet"
    assert perform.task == "/use/functions/getPet"
    assert perform.args["uri"] == "https://example.com/pets/3"
    d.complete("/do/0/c/call/0/getPet", {"name": "rex"})
    assert (d.status, d.output) == ("completed", "rex")


def test_function_input_schema_is_checked_on_the_with_value() -> None:
    d = run(FUNCTIONS.replace("petId: '${ .id }'", "other: 1"), {"id": 3})
    assert d.error is not None
    assert d.error["type"] == error_type("validation")
    assert d.error["instance"] == "/use/functions/getPet"
    assert d.task_events("faulted") == ["/use/functions/getPet", C]


def test_pure_function_without_with_gets_the_callers_input_and_no_scoped_variables() -> None:
    d = run(
        FUNCTIONS.replace(
            "  - c:\n      call: getPet\n      with:\n        petId: '${ .id }'\n",
            "  - loop:\n      for: {in: '[1]'}\n      do:\n        - c:\n            call: double\n",
        ),
        {"n": 21},
    )
    assert d.output == {"value": 42, "item": None}


def test_unknown_function_is_a_configuration_error() -> None:
    defn = definition("do:\n  - c:\n      call: nowhere\n", validate=False)
    d = Driver(defn)
    d.start()
    assert d.error is not None
    assert d.error["type"] == error_type("configuration")
    assert d.error["detail"].startswith("function 'nowhere' is not in use.functions")


def test_results_for_effects_not_in_flight_are_ignored() -> None:
    d = call("        method: get\n        endpoint: https://example.com/\n")
    stray = d.complete("/do/0/other", 1)
    assert (stray.applied, stray.commands, stray.events, d.status) == (False, [], [], "running")
    d.complete(C, 1)
    dup = d.complete(C, 2)
    assert (dup.applied, d.output) == (False, 1)


def test_perform_commands_are_plain_data() -> None:
    d = call("        method: get\n        endpoint: https://example.com/\n")
    perform = d.perform()
    assert isinstance(perform, Perform)
    assert msgspec.json.decode(msgspec.json.encode(perform), type=Perform) == perform
