"""``emit`` (the output is the event) and ``listen`` (strategies, read modes, correlation,
foreach)."""

from __future__ import annotations

import uuid
from typing import Any

from interpreter_helpers import T0, Driver, at, definition, error_type, run

from flunq.interpreter.protocol import Emit, Listen, Perform, Unlisten

L = "/do/0/l"


def ce(type_: str, data: Any = None, **attrs: Any) -> dict[str, Any]:
    """A CloudEvent envelope."""
    return {"specversion": "1.0", "id": attrs.pop("id", f"id-{type_}"), "source": "test", "type": type_,
            "data": data, **attrs}


EMIT = """
do:
  - e:
      emit:
        event:
          with:
            source: https://example.com/orders
            type: com.example.order.placed.v1
            subject: '${ .id }'
            data:
              order: '${ .id }'
              greeting: '${ "Hello \\(.name)" }'
"""


def test_emit_publishes_the_event_and_outputs_it() -> None:
    d = run(EMIT, {"id": "o-1", "name": "Ann"})
    assert d.status == "completed"
    event = d.output
    assert event == {
        "specversion": "1.0",
        "id": event["id"],
        "time": T0,
        "source": "https://example.com/orders",
        "type": "com.example.order.placed.v1",
        "subject": "o-1",
        "data": {"order": "o-1", "greeting": "Hello Ann"},
        "datacontenttype": "application/json",
    }
    assert uuid.UUID(event["id"]).version == 4
    assert d.last.commands == [Emit(event=event)]


def test_emitted_event_id_is_deterministic_per_execution() -> None:
    first = run(EMIT, {"id": "o-1", "name": "Ann"}).output["id"]
    again = run(EMIT, {"id": "o-1", "name": "Ann"}).output["id"]
    other = Driver(definition(EMIT), execution_id="exec-2")
    other.start({"id": "o-1", "name": "Ann"})
    assert first == again
    assert other.output["id"] != first


def test_emit_keeps_given_id_time_and_extension_attributes() -> None:
    d = run(
        """
        do:
          - e:
              emit:
                event:
                  with:
                    id: fixed-id
                    time: '2020-01-01T00:00:00Z'
                    source: https://example.com/src
                    type: t
                    datacontenttype: text/plain
                    partitionkey: p1
                    data: hello
        """
    )
    assert d.output == {
        "specversion": "1.0",
        "id": "fixed-id",
        "time": "2020-01-01T00:00:00Z",
        "source": "https://example.com/src",
        "type": "t",
        "datacontenttype": "text/plain",
        "partitionkey": "p1",
        "data": "hello",
    }


def test_emit_without_data_has_no_content_type() -> None:
    d = run("do:\n  - e:\n      emit:\n        event:\n          with: {source: 'https://s.example', type: t}\n")
    assert set(d.output) == {"specversion", "id", "time", "source", "type"}


def test_emit_whose_type_evaluates_to_null_is_a_validation_error() -> None:
    d = run("do:\n  - e:\n      emit:\n        event:\n          with: {source: 'https://s.example', type: '${ .t }'}\n", {})
    assert d.error == {
        "type": error_type("validation"),
        "status": 400,
        "title": "Validation Error",
        "detail": "an emitted event needs a non-empty string 'type'",
        "instance": "/do/0/e",
    }
    assert d.of(Emit) == []


def listen(body: str, data: Any = None) -> Driver:
    return run(f"do:\n  - l:\n{body}", data)


ONE = """      listen:
        to:
          one:
            with:
              type: com.example.ping
"""


def test_listen_one_sends_a_listen_command_and_waits() -> None:
    d = listen(ONE)
    assert d.last.commands == [Listen(listener_id=L, filters=[{"with": {"type": "com.example.ping"}, "expect": {}}])]
    assert d.status == "waiting"
    assert d.st.listeners[L] == d.last.commands[0]


def test_listen_one_outputs_the_data_of_the_event_as_an_array() -> None:
    d = listen(ONE)
    step = d.event(L, ce("com.example.ping", {"n": 1}))
    assert step.commands == [Unlisten(listener_id=L)]
    assert (d.status, d.output) == ("completed", [{"n": 1}])


def test_a_delivered_event_that_does_not_match_is_ignored() -> None:
    d = listen(ONE)
    step = d.event(L, ce("com.example.other", {"n": 1}))
    assert (step.commands, d.status) == ([], "waiting")
    d.event(L, ce("com.example.ping", {"n": 2}))
    assert d.output == [{"n": 2}]


def test_event_for_an_unknown_listener_is_not_applied() -> None:
    d = listen(ONE)
    step = d.event("/do/9/nobody", ce("com.example.ping"))
    assert (step.applied, step.commands, step.events) == (False, [], [])


def test_filter_strings_are_regular_expressions_matching_the_whole_value() -> None:
    d = listen("      listen:\n        to:\n          one:\n            with:\n              type: 'com\\.example\\..*'\n")
    d.event(L, ce("xcom.example.a", 0))
    assert d.status == "waiting"
    d.event(L, ce("com.example.a", 1))
    assert d.output == [1]


def test_filter_expression_is_a_predicate_on_the_attribute() -> None:
    d = listen(
        "      listen:\n        to:\n          one:\n            with:\n"
        "              type: vitals\n              data: '${ .temperature > 38 }'\n"
    )
    d.event(L, ce("vitals", {"temperature": 37}))
    assert d.status == "waiting"
    d.event(L, ce("vitals", {"temperature": 39}))
    assert d.output == [{"temperature": 39}]


def test_listen_any_with_an_empty_list_takes_any_event() -> None:
    d = listen("      listen:\n        to:\n          any: []\n")
    assert d.last.commands == [Listen(listener_id=L, filters=[{"with": {}, "expect": {}}])]
    d.event(L, ce("whatever", "x"))
    assert d.output == ["x"]


def test_listen_any_finishes_after_the_first_match() -> None:
    d = listen(
        "      listen:\n        to:\n          any:\n"
        "            - with: {type: a}\n            - with: {type: b}\n"
    )
    d.event(L, ce("b", "second filter"))
    assert d.output == ["second filter"]


def test_listen_all_waits_for_every_filter() -> None:
    d = listen(
        "      listen:\n        to:\n          all:\n"
        "            - with: {type: a}\n            - with: {type: b}\n"
    )
    d.event(L, ce("b", 2))
    assert d.status == "waiting"
    d.event(L, ce("a", 1))
    assert (d.status, d.output) == ("completed", [2, 1])


def test_listen_any_until_expression_is_evaluated_on_the_consumed_events() -> None:
    d = listen(
        "      listen:\n        to:\n          any:\n            - with: {type: reading}\n"
        "          until: '( . | length ) > 2'\n"
    )
    for n in range(3):
        assert d.status == "waiting"
        d.event(L, ce("reading", n))
    assert (d.status, d.output) == ("completed", [0, 1, 2])


def test_listen_until_strategy_events_are_not_part_of_the_output() -> None:
    d = listen(
        "      listen:\n        to:\n          any:\n            - with: {type: reading}\n"
        "          until:\n            one:\n              with: {type: stop}\n"
    )
    assert d.last.commands == [
        Listen(
            listener_id=L,
            filters=[{"with": {"type": "reading"}, "expect": {}}, {"with": {"type": "stop"}, "expect": {}}],
        )
    ]
    d.event(L, ce("reading", 1))
    d.event(L, ce("reading", 2))
    assert d.status == "waiting"
    d.event(L, ce("stop", "bye"))
    assert (d.status, d.output) == ("completed", [1, 2])


def test_read_envelope_outputs_whole_events() -> None:
    d = listen(ONE + "        read: envelope\n")
    event = ce("com.example.ping", {"n": 1}, subject="s")
    d.event(L, event)
    assert d.output == [event]


def test_read_raw_outputs_binary_data_as_base64_and_other_data_as_is() -> None:
    d = listen(
        "      listen:\n        to:\n          all:\n"
        "            - with: {type: bin}\n            - with: {type: json}\n        read: raw\n"
    )
    binary = {"specversion": "1.0", "id": "1", "source": "s", "type": "bin", "data_base64": "AAE="}
    d.event(L, binary)
    d.event(L, ce("json", {"a": 1}))
    assert d.output == ["AAE=", {"a": 1}]


CORRELATED = """      listen:
        to:
          all:
            - with: {type: order.paid}
              correlate:
                order: {from: .data.orderId}
            - with: {type: order.shipped}
              correlate:
                order: {from: .data.orderId}
"""


def test_correlation_without_expect_learns_the_first_value() -> None:
    d = listen(CORRELATED)
    assert d.last.commands == [
        Listen(
            listener_id=L,
            filters=[
                {"with": {"type": "order.paid"}, "correlate": {"order": {"from": ".data.orderId"}}, "expect": {}},
                {"with": {"type": "order.shipped"}, "correlate": {"order": {"from": ".data.orderId"}}, "expect": {}},
            ],
        )
    ]
    d.event(L, ce("order.paid", {"orderId": 1}))
    d.event(L, ce("order.shipped", {"orderId": 2}))
    assert d.status == "waiting"
    d.event(L, ce("order.shipped", {"orderId": 1}))
    assert d.output == [{"orderId": 1}, {"orderId": 1}]


def test_correlation_with_an_expect_expression() -> None:
    d = listen(
        "      listen:\n        to:\n          one:\n            with: {type: order.paid}\n"
        "            correlate:\n              order: {from: .data.orderId, expect: '${ .id }'}\n",
        {"id": 7},
    )
    assert d.last.commands == [
        Listen(
            listener_id=L,
            filters=[
                {
                    "with": {"type": "order.paid"},
                    "correlate": {"order": {"from": ".data.orderId"}},
                    "expect": {"order": 7},
                }
            ],
        )
    ]
    d.event(L, ce("order.paid", {"orderId": 1}))
    assert d.status == "waiting"
    d.event(L, ce("order.paid", {"orderId": 7}))
    assert d.output == [{"orderId": 7}]


def test_correlation_with_a_constant_expect() -> None:
    d = listen(
        "      listen:\n        to:\n          one:\n            with: {type: t}\n"
        "            correlate:\n              region: {from: .data.region, expect: eu}\n"
    )
    d.event(L, ce("t", {"region": "us"}))
    d.event(L, ce("t", {"region": "eu"}))
    assert d.output == [{"region": "eu"}]


def test_an_event_whose_correlation_cannot_be_extracted_is_ignored() -> None:
    d = listen(
        "      listen:\n        to:\n          one:\n            with: {type: t}\n"
        "            correlate:\n              k: {from: '.data | error(\"no key\")'}\n"
    )
    step = d.event(L, ce("t", {"k": 1}))
    assert (step.commands, d.status) == ([], "waiting")


def test_foreach_runs_the_list_per_event_and_outputs_the_results() -> None:
    d = listen(
        """      listen:
        to:
          any:
            - with: {type: reading}
          until: '( . | length ) >= 2'
      foreach:
        item: reading
        at: n
        do:
          - note:
              set: '${ {value: $reading.v, n: $n, dot: .v} }'
        output:
          as: '${ . + {checked: true} }'
        export:
          as: '${ {lastN: .n} }'
"""
    )
    d.event(L, ce("reading", {"v": 10}))
    assert d.status == "waiting"
    d.event(L, ce("reading", {"v": 20}))
    assert d.output == [
        {"value": 10, "n": 0, "dot": 10, "checked": True},
        {"value": 20, "n": 1, "dot": 20, "checked": True},
    ]
    assert d.st.context == {"lastN": 1}


def test_foreach_items_are_processed_one_at_a_time_in_order() -> None:
    defn = definition(
        """
        do:
          - l:
              listen:
                to:
                  any:
                    - with: {type: job}
                  until: '( . | length ) >= 2'
              foreach:
                do:
                  - work:
                      call: http
                      with:
                        method: post
                        endpoint: https://example.com/work
                        body: '${ $item }'
        """
    )
    d = Driver(defn)
    d.start()
    first = d.event(L, ce("job", {"job": 1}))
    assert [(p.effect_id, p.args["body"]) for p in d.performs(first)] == [
        ("/do/0/l/foreach/do[0]/0/work", {"job": 1})
    ]
    second = d.event(L, ce("job", {"job": 2}))
    assert d.performs(second) == []  # queued behind the first
    assert second.commands == [Unlisten(listener_id=L)]
    third = d.complete("/do/0/l/foreach/do[0]/0/work", "done 1")
    assert [p.effect_id for p in d.performs(third)] == ["/do/0/l/foreach/do[1]/0/work"]
    d.complete("/do/0/l/foreach/do[1]/0/work", "done 2")
    assert (d.status, d.output) == ("completed", ["done 1", "done 2"])


def test_listen_timeout_stops_listening() -> None:
    d = listen("      timeout: {after: PT30S}\n" + ONE)
    step = d.fire(L + "#timeout")
    assert step.commands == [Unlisten(listener_id=L)]
    assert d.error is not None and d.error["type"] == error_type("timeout")
    assert d.st.listeners == {}
    assert d.now == at(30)


def test_listen_is_not_an_effect() -> None:
    d = listen(ONE)
    assert d.st.inflight == {}
    assert not any(isinstance(c, Perform) for c in d.commands)
