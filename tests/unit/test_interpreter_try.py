"""``try``/``catch``: filters, when/exceptWhen, catch.as, catch.do, and retry policies."""

from __future__ import annotations

from typing import Any

from interpreter_helpers import Driver, at, definition, error_type, run

from flunq.interpreter.protocol import CancelEffect, CancelTimer, StartTimer
from flunq.interpreter.times import to_epoch

GET = "{call: http, with: {method: get, endpoint: 'https://example.com/pets'}}"


def raising(catch: str, error: str = "{type: 'https://serverlessworkflow.io/spec/1.0.0/errors/communication', status: 503, title: Down}") -> Driver:
    """A try whose list raises ``error``, with ``catch`` as the YAML flow mapping of the catch."""
    return run(
        f"""
        do:
          - guarded:
              try:
                - boom:
                    raise:
                      error: {error}
              catch: {catch}
          - after:
              set: '${{ {{after: .}} }}'
        """,
        {"in": 1},
    )


def retrying(retry: str, extra: str = "") -> Driver:
    """A try around one HTTP call with the given inline retry policy (YAML flow mapping)."""
    defn = definition(
        f"""
        {extra}
        do:
          - t:
              try:
                - get: {GET}
              catch:
                retry: {retry}
        """
    )
    d = Driver(defn)
    d.start({"in": 1})
    return d


def unavailable(n: int = 0) -> dict[str, Any]:
    return {"type": error_type("communication"), "status": 503, "title": f"Down {n}"}


def test_a_caught_error_runs_catch_do_whose_output_is_the_try_tasks() -> None:
    d = raising("{errors: {with: {status: 503}}, do: [{handle: {set: '${ {handled: .in} }'}}]}")
    assert (d.status, d.output) == ("completed", {"after": {"handled": 1}})


def test_type_filter_matches_the_spec_error_type() -> None:
    d = raising(
        "{errors: {with: {type: 'https://serverlessworkflow.io/spec/1.0.0/errors/communication'}},"
        " do: [{h: {set: {caught: true}}}]}"
    )
    assert d.output == {"after": {"caught": True}}


def test_legacy_type_alias_matches_the_spec_error_type() -> None:
    d = raising(
        "{errors: {with: {type: 'https://serverlessworkflow.io/dsl/errors/types/communication'}},"
        " do: [{h: {set: {caught: legacy}}}]}"
    )
    assert d.output == {"after": {"caught": "legacy"}}


def test_an_error_the_filter_rejects_propagates_unchanged() -> None:
    d = raising("{errors: {with: {status: 404}}, do: [{h: {set: {caught: true}}}]}")
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("communication"),
        "status": 503,
        "title": "Down",
        "instance": "/do/0/guarded/try/0/boom",
    }
    assert d.task_events("faulted") == ["/do/0/guarded/try/0/boom", "/do/0/guarded"]


def test_filter_on_instance_title_and_details() -> None:
    error = "{type: 'https://example.com/e', status: 400, title: Bad, detail: 'no pets'}"
    hit = raising(
        "{errors: {with: {instance: /do/0/guarded/try/0/boom, title: Bad, details: 'no pets'}}, do: [{h: {set: {v: 1}}}]}",
        error,
    )
    assert hit.output == {"after": {"v": 1}}
    miss = raising("{errors: {with: {title: Other}}, do: [{h: {set: {v: 1}}}]}", error)
    assert miss.status == "faulted"


def test_when_decides_whether_the_error_is_caught() -> None:
    caught = raising("{when: '$error.status == 503', do: [{h: {set: '${ {caught: $error.title} }'}}]}")
    assert caught.output == {"after": {"caught": "Down"}}
    missed = raising("{when: '.status == 500', do: [{h: {set: {v: 1}}}]}")
    assert missed.status == "faulted"


def test_except_when_excludes_errors() -> None:
    excluded = raising("{exceptWhen: '.status >= 500', do: [{h: {set: {v: 1}}}]}")
    assert excluded.status == "faulted"
    kept = raising("{exceptWhen: '.status == 404', do: [{h: {set: {v: 2}}}]}")
    assert kept.output == {"after": {"v": 2}}


def test_catch_as_renames_the_error_variable() -> None:
    d = raising("{as: oops, do: [{h: {set: '${ {status: $oops.status, instance: $oops.instance} }'}}]}")
    assert d.output == {"after": {"status": 503, "instance": "/do/0/guarded/try/0/boom"}}


def test_catch_do_starts_from_the_try_tasks_input() -> None:
    d = raising("{do: [{h: {set: '${ {input: ., error: $error.status} }'}}]}")
    assert d.output == {"after": {"input": {"in": 1}, "error": 503}}


def test_without_catch_do_the_error_is_swallowed_and_the_output_is_the_input() -> None:
    d = raising("{errors: {with: {status: 503}}}")
    assert (d.status, d.output) == ("completed", {"after": {"in": 1}})


def test_successful_try_outputs_its_last_task() -> None:
    d = run(
        """
        do:
          - t:
              try:
                - a:
                    set: {ok: true}
              catch:
                do:
                  - h:
                      set: {handled: true}
        """
    )
    assert d.output == {"ok": True}


def test_constant_retry_waits_the_delay_before_each_attempt() -> None:
    d = retrying("{delay: PT2S, backoff: {constant: {}}, limit: {attempt: {count: 2}}}")
    assert d.perform().effect_id == "/do/0/t/try[0]/0/get"
    step = d.fail("/do/0/t/try[0]/0/get", unavailable())
    assert step.commands == [StartTimer(timer_id="/do/0/t#retry1", due=at(2))]
    assert d.status == "waiting"
    step = d.fire("/do/0/t#retry1")
    assert d.perform(step).effect_id == "/do/0/t/try[1]/0/get"
    d.tick(0.5)
    step = d.fail("/do/0/t/try[1]/0/get", unavailable())
    assert step.commands == [StartTimer(timer_id="/do/0/t#retry2", due=at(4.5))]


def delays(d: Driver, attempts: int) -> list[float]:
    """Fail ``attempts`` attempts in a row; the retry delays asked for, in seconds."""
    seen = []
    for n in range(attempts):
        before = d.now
        step = d.fail(f"/do/0/t/try[{n}]/0/get", unavailable(n))
        timers = d.of(StartTimer, step)
        if not timers:
            break
        seen.append(round(to_epoch(timers[0].due) - to_epoch(before), 6))
        d.fire(timers[0].timer_id)
    return seen


def test_linear_backoff_multiplies_the_delay_by_the_retry_number() -> None:
    d = retrying("{delay: PT1S, backoff: {linear: {}}, limit: {attempt: {count: 3}}}")
    assert delays(d, 4) == [1.0, 2.0, 3.0]


def test_exponential_backoff_doubles_the_delay() -> None:
    d = retrying("{delay: {seconds: 1}, backoff: {exponential: {}}, limit: {attempt: {count: 4}}}")
    assert delays(d, 5) == [1.0, 2.0, 4.0, 8.0]


def test_no_backoff_means_constant() -> None:
    d = retrying("{delay: PT3S, limit: {attempt: {count: 3}}}")
    assert delays(d, 4) == [3.0, 3.0, 3.0]


def test_jitter_is_within_range_and_the_same_on_replay() -> None:
    policy = "{delay: PT1S, jitter: {from: PT0S, to: PT1S}, limit: {attempt: {count: 3}}}"
    first = delays(retrying(policy), 4)
    again = delays(retrying(policy), 4)
    assert first == again
    assert all(1.0 <= value <= 2.0 for value in first)
    assert len(set(first)) > 1  # a different draw per retry


def test_attempt_count_limits_retries_and_the_last_error_propagates() -> None:
    d = retrying("{delay: PT1S, limit: {attempt: {count: 2}}}")
    assert delays(d, 3) == [1.0, 1.0]
    assert d.status == "faulted"
    assert d.error == {**unavailable(2), "instance": "/do/0/t/try/0/get"}
    assert d.task_events("retried") == ["/do/0/t", "/do/0/t"]


def test_a_successful_retry_completes_the_try() -> None:
    d = retrying("{delay: PT1S, limit: {attempt: {count: 5}}}")
    d.fail("/do/0/t/try[0]/0/get", unavailable())
    d.fire("/do/0/t#retry1")
    d.complete("/do/0/t/try[1]/0/get", {"pets": []})
    assert (d.status, d.output) == ("completed", {"pets": []})


def test_limit_duration_caps_the_total_time_spent_retrying() -> None:
    d = retrying("{delay: PT10S, limit: {duration: PT15S}}")
    assert delays(d, 3) == [10.0]
    assert d.status == "faulted"
    assert d.error is not None and d.error["title"] == "Down 1"


def test_attempt_duration_times_out_an_attempt_and_retries_it() -> None:
    d = retrying("{delay: PT1S, limit: {attempt: {count: 1, duration: PT5S}}}")
    assert d.of(StartTimer, d.last) == [StartTimer(timer_id="/do/0/t#attempt0", due=at(5))]
    step = d.fire("/do/0/t#attempt0")
    assert step.commands == [
        CancelEffect(effect_id="/do/0/t/try[0]/0/get"),
        StartTimer(timer_id="/do/0/t#retry1", due=at(6)),
    ]
    step = d.fire("/do/0/t#retry1")
    assert d.of(StartTimer, step) == [StartTimer(timer_id="/do/0/t#attempt1", due=at(11))]
    step = d.fire("/do/0/t#attempt1")
    assert d.status == "faulted"
    assert d.error == {
        "type": error_type("timeout"),
        "status": 408,
        "title": "Timeout",
        "detail": "retry attempt timed out",
        "instance": "/do/0/t",
    }


def test_attempt_timer_is_cancelled_when_the_attempt_answers_in_time() -> None:
    d = retrying("{delay: PT1S, limit: {attempt: {count: 1, duration: PT5S}}}")
    step = d.complete("/do/0/t/try[0]/0/get", "ok")
    assert step.commands == [CancelTimer(timer_id="/do/0/t#attempt0")]
    assert d.output == "ok"


def test_a_late_result_of_an_abandoned_attempt_is_ignored() -> None:
    d = retrying("{delay: PT1S, limit: {attempt: {count: 3}}}")
    d.fail("/do/0/t/try[0]/0/get", unavailable())
    d.fire("/do/0/t#retry1")
    late = d.complete("/do/0/t/try[0]/0/get", "too late")
    assert (late.applied, late.commands, late.events) == (False, [], [])
    assert d.status == "running"


def test_retry_reruns_the_whole_try_list_with_the_original_input() -> None:
    defn = definition(
        """
        do:
          - t:
              input:
                from: '${ {n: .n} }'
              try:
                - bump:
                    set: '${ {n: (.n + 1)} }'
                - get:
                    call: http
                    with:
                      method: get
                      endpoint: https://example.com/n/{n}
              catch:
                retry:
                  delay: PT1S
                  limit: {attempt: {count: 1}}
        """
    )
    d = Driver(defn)
    d.start({"n": 1})
    assert d.perform().args["uri"] == "https://example.com/n/2"
    d.fail("/do/0/t/try[0]/1/get", unavailable())
    step = d.fire("/do/0/t#retry1")
    assert d.perform(step).args["uri"] == "https://example.com/n/2"


def test_referenced_retry_policy() -> None:
    d = retrying(
        "backoff",
        extra="use: {retries: {backoff: {delay: PT5S, backoff: {linear: {}}, limit: {attempt: {count: 2}}}}}",
    )
    assert delays(d, 3) == [5.0, 10.0]


def test_retry_when_false_skips_retrying_and_runs_catch_do() -> None:
    d = run(
        f"""
        do:
          - t:
              try:
                - get: {GET}
              catch:
                retry:
                  when: '.status == 503'
                  delay: PT1S
                  limit: {{attempt: {{count: 3}}}}
                do:
                  - fallback:
                      set: '${{ {{fallback: $error.status}} }}'
        """
    )
    step = d.fail("/do/0/t/try[0]/0/get", {"type": error_type("communication"), "status": 500})
    assert d.of(StartTimer, step) == []
    assert d.output == {"fallback": 500}


def test_retry_except_when_skips_retrying_and_propagates_without_catch_do() -> None:
    d = retrying("{exceptWhen: '.status == 404', delay: PT1S}")
    d.fail("/do/0/t/try[0]/0/get", {"type": error_type("communication"), "status": 404})
    assert d.status == "faulted"
    assert d.error is not None and d.error["status"] == 404


def test_catch_do_runs_once_retries_are_exhausted_with_the_last_error() -> None:
    d = run(
        f"""
        do:
          - t:
              try:
                - get: {GET}
              catch:
                retry:
                  delay: PT1S
                  limit: {{attempt: {{count: 1}}}}
                do:
                  - fallback:
                      set: '${{ {{gaveUpOn: $error.title}} }}'
        """
    )
    d.fail("/do/0/t/try[0]/0/get", unavailable(0))
    assert d.status == "waiting"
    d.fire("/do/0/t#retry1")
    d.fail("/do/0/t/try[1]/0/get", unavailable(1))
    assert (d.status, d.output) == ("completed", {"gaveUpOn": "Down 1"})
    assert d.task_events("retried") == ["/do/0/t"]


def test_an_error_the_catch_filter_rejects_is_not_retried() -> None:
    d = run(
        f"""
        do:
          - t:
              try:
                - get: {GET}
              catch:
                errors:
                  with: {{status: 503}}
                retry:
                  delay: PT1S
        """
    )
    step = d.fail("/do/0/t/try[0]/0/get", {"type": error_type("communication"), "status": 400})
    assert d.of(StartTimer, step) == []
    assert d.status == "faulted"


def test_retried_event_carries_the_try_task_and_time() -> None:
    d = retrying("{delay: PT2S, limit: {attempt: {count: 1}}}")
    d.fail("/do/0/t/try[0]/0/get", unavailable())
    step = d.fire("/do/0/t#retry1")
    retried = [e for e in step.events if e.type == "io.serverlessworkflow.task.retried.v1"]
    assert [e.data for e in retried] == [
        {"workflow": "wf-exec-1.test", "task": "/do/0/t", "retriedAt": at(2)}
    ]


def test_nested_try_inner_rethrows_to_outer() -> None:
    d = run(
        """
        do:
          - outer:
              try:
                - inner:
                    try:
                      - boom:
                          raise:
                            error: {type: 'https://example.com/a', status: 418}
                    catch:
                      errors:
                        with: {status: 500}
              catch:
                errors:
                  with: {status: 418}
                do:
                  - h:
                      set: '${ {outerCaught: $error.instance} }'
        """
    )
    assert d.output == {"outerCaught": "/do/0/outer/try/0/inner/try/0/boom"}


def test_an_empty_try_list_completes_without_arming_an_attempt_timer() -> None:
    d = run(
        """
        do:
          - t:
              try: []
              catch:
                retry:
                  delay: PT1S
                  limit: {attempt: {duration: PT5S}}
        """,
        {"in": 1},
    )
    assert (d.status, d.output) == ("completed", {"in": 1})
    assert d.commands == []
    assert d.st.timers == {}


def test_ids_compose_through_for_try_attempts_and_fork_branches() -> None:
    d = run(
        """
        do:
          - loop:
              for: {in: '[1, 2]'}
              do:
                - t:
                    try:
                      - f:
                          fork:
                            branches:
                              - a: {call: http, with: {method: get, endpoint: 'https://example.com/a'}}
                              - b: {wait: PT1S}
                    catch:
                      retry: {delay: PT2S, limit: {attempt: {count: 1}}}
                      do:
                        - h:
                            set: '${ {handled: $item} }'
        """
    )
    first = "/do/0/loop/do[0]/0/t"
    assert [c.effect_id for c in d.performs()] == [f"{first}/try[0]/0/f/fork/branches/0/a"]
    step = d.fail(f"{first}/try[0]/0/f/fork/branches/0/a", unavailable())
    assert step.commands == [
        CancelTimer(timer_id=f"{first}/try[0]/0/f/fork/branches/1/b"),
        StartTimer(timer_id=f"{first}#retry1", due=at(2)),
    ]
    d.fire(f"{first}#retry1")
    d.fire(f"{first}/try[1]/0/f/fork/branches/1/b")
    step = d.complete(f"{first}/try[1]/0/f/fork/branches/0/a", "A")
    second = "/do/0/loop/do[1]/0/t"
    assert [c.effect_id for c in d.performs(step)] == [f"{second}/try[0]/0/f/fork/branches/0/a"]
    d.fail(f"{second}/try[0]/0/f/fork/branches/0/a", unavailable())
    d.fire(f"{second}#retry1")
    d.fail(f"{second}/try[1]/0/f/fork/branches/0/a", unavailable())
    assert (d.status, d.output, d.st.timers) == ("completed", {"handled": 2}, {})


def test_an_error_inside_catch_do_propagates() -> None:
    d = raising(
        "{do: [{again: {raise: {error: {type: 'https://example.com/handler', status: 500}}}}]}"
    )
    assert d.status == "faulted"
    assert d.error == {"type": "https://example.com/handler", "status": 500, "instance": "/do/0/guarded/catch/do/0/again"}
