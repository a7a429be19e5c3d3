"""Lifecycle CloudEvents (DSL §15): types, data fields, order; statuses (DSL §16)."""

from __future__ import annotations

from interpreter_helpers import T0, Driver, at, definition, event_types, run

from flunq.interpreter import Env

NAME = "wf-exec-1.test"


def test_events_of_a_one_task_workflow_in_order_with_their_data() -> None:
    d = run("do:\n  - s:\n      set: {a: 1}\n", {"in": 1})
    assert [(e.type, e.time, e.data) for e in d.events] == [
        (
            "io.serverlessworkflow.workflow.started.v1",
            T0,
            {"name": NAME, "startedAt": T0, "definition": {"name": "wf", "namespace": "test", "version": "0.1.0"}},
        ),
        ("io.serverlessworkflow.task.created.v1", T0, {"workflow": NAME, "task": "/do/0/s", "createdAt": T0}),
        ("io.serverlessworkflow.task.started.v1", T0, {"workflow": NAME, "task": "/do/0/s", "startedAt": T0}),
        (
            "io.serverlessworkflow.task.completed.v1",
            T0,
            {"workflow": NAME, "task": "/do/0/s", "completedAt": T0, "output": {"a": 1}},
        ),
        ("io.serverlessworkflow.workflow.completed.v1", T0, {"name": NAME, "completedAt": T0, "output": {"a": 1}}),
        ("io.serverlessworkflow.workflow.status-changed.v1", T0, {"name": NAME, "updatedAt": T0, "status": "completed"}),
    ]


def test_task_outputs_can_be_left_out_of_completed_events() -> None:
    d = run("do:\n  - s:\n      set: {a: 1}\n", env=Env(lifecycle_outputs=False))
    completed = [e for e in d.events if e.type.endswith("task.completed.v1")]
    assert completed[0].data == {"workflow": NAME, "task": "/do/0/s", "completedAt": T0}


def test_composite_task_events_nest_around_their_children() -> None:
    d = run("do:\n  - outer:\n      do:\n        - inner:\n            set: {a: 1}\n")
    assert [(t, e.data.get("task")) for t, e in zip(event_types(d.events), d.events, strict=True)][1:-2] == [
        ("task.created", "/do/0/outer"),
        ("task.started", "/do/0/outer"),
        ("task.created", "/do/0/outer/do/0/inner"),
        ("task.started", "/do/0/outer/do/0/inner"),
        ("task.completed", "/do/0/outer/do/0/inner"),
        ("task.completed", "/do/0/outer"),
    ]


def test_status_is_running_while_an_effect_is_in_flight() -> None:
    d = run("do:\n  - c:\n      call: http\n      with: {method: get, endpoint: 'https://example.com/'}\n")
    assert d.status == "running"
    assert event_types(d.last.events)[-1] == "workflow.status-changed"
    assert d.last.events[-1].data["status"] == "running"


def test_status_is_waiting_on_timers_and_listeners_only() -> None:
    assert run("do:\n  - w:\n      wait: PT1S\n").status == "waiting"
    assert run("do:\n  - l:\n      listen:\n        to:\n          any: []\n").status == "waiting"


def test_status_goes_from_running_to_waiting_and_back() -> None:
    defn = definition(
        """
        do:
          - c:
              call: http
              with: {method: get, endpoint: 'https://example.com/'}
          - w:
              wait: PT1S
          - c2:
              call: http
              with: {method: get, endpoint: 'https://example.com/2'}
        """
    )
    d = Driver(defn)
    statuses = [d.start().state.status]
    statuses.append(d.complete("/do/0/c", 1).state.status)
    statuses.append(d.fire("/do/1/w").state.status)
    statuses.append(d.complete("/do/2/c2", 2).state.status)
    assert statuses == ["running", "waiting", "running", "completed"]
    changes = [e.data["status"] for e in d.events if e.type.endswith("workflow.status-changed.v1")]
    assert changes == statuses


def test_no_status_changed_event_when_the_status_stays_the_same() -> None:
    d = run(
        """
        do:
          - f:
              fork:
                branches:
                  - a: {call: http, with: {method: get, endpoint: 'https://example.com/a'}}
                  - b: {call: http, with: {method: get, endpoint: 'https://example.com/b'}}
        """
    )
    step = d.complete("/do/0/f/fork/branches/0/a", 1)
    assert event_types(step.events) == ["task.completed"]


def test_faulted_events_carry_the_error() -> None:
    d = run("do:\n  - r:\n      raise:\n        error: {type: 'https://example.com/e', status: 400}\n")
    error = {"type": "https://example.com/e", "status": 400, "instance": "/do/0/r"}
    assert [(t, e.data) for t, e in zip(event_types(d.events), d.events, strict=True)][1:] == [
        ("task.created", {"workflow": NAME, "task": "/do/0/r", "createdAt": T0}),
        ("task.started", {"workflow": NAME, "task": "/do/0/r", "startedAt": T0}),
        ("task.faulted", {"workflow": NAME, "task": "/do/0/r", "faultedAt": T0, "error": error}),
        ("workflow.faulted", {"name": NAME, "faultedAt": T0, "error": error}),
        ("workflow.status-changed", {"name": NAME, "updatedAt": T0, "status": "faulted"}),
    ]


def test_event_times_are_the_times_of_the_facts() -> None:
    d = run("do:\n  - w:\n      wait: PT10S\n")
    step = d.fire("/do/0/w")
    assert {e.time for e in step.events} == {at(10)}
    # a null output is left out of the event
    assert step.events[0].data == {"workflow": NAME, "task": "/do/0/w", "completedAt": at(10)}


def test_skipped_tasks_emit_no_events() -> None:
    d = run("do:\n  - s:\n      if: 'false'\n      set: {a: 1}\n")
    assert event_types(d.events) == ["workflow.started", "workflow.completed", "workflow.status-changed"]


def test_qualified_name_uses_the_execution_id() -> None:
    d = Driver(definition("do:\n  - s:\n      set: {a: 1}\n", name="orders"), execution_id="x7")
    d.start()
    assert d.events[0].data["name"] == "orders-x7.test"
    assert d.events[1].data["workflow"] == "orders-x7.test"
