"""How each golden case's facts were recorded: the input, the effect answers, the timing."""

from __future__ import annotations

from typing import Any

from tests.golden.journal import Effect, Failure, Recipe

ERR = "https://serverlessworkflow.io/spec/1.0.0/errors/"


def unavailable(n: int) -> Failure:
    return Failure({"type": ERR + "communication", "status": 503, "title": f"Service Unavailable ({n})"})


def by_uri(answers: dict[str, Any]) -> Any:
    """Answer HTTP calls by the start of their URI."""

    def answer(cmd: Effect, n: int) -> Any:
        uri = cmd.args.get("uri", "") if hasattr(cmd, "args") else ""
        for prefix, value in answers.items():
            if uri.startswith(prefix):
                return value(n) if callable(value) else value
        raise AssertionError(f"no answer for {cmd!r}")

    return answer


def _retry_backoff(cmd: Effect, n: int) -> Any:
    # attempt 0 hangs (times out), attempt 1 fails, attempt 2 succeeds
    return unavailable(n) if n < 2 else {"data": [1, 2, 3]}


def _retry_latency(cmd: Effect) -> float:
    return 3.0 if "try[0]" in cmd.effect_id else 0.5


def _subflow(cmd: Effect, n: int) -> Any:
    return {"id": "c-42", "email": "ann@example.com"}


def _event(type_: str, data: Any, n: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"ev-{n}", "source": "https://sensors.example.com", "type": type_,
            "data": data}


RECIPES: dict[str, Recipe] = {
    "pure_pipeline": Recipe(input={"numbers": [1, 2, 3, 4]}),
    "http_chain": Recipe(
        input={"petId": 7, "password": "s3cret"},
        answer=by_uri(
            {
                "https://petstore.example.com/pets/": {"id": 7, "name": "rex"},
                "https://petstore.example.com/orders": {"id": "o-1", "status": "placed"},
            }
        ),
    ),
    "wait_suspend_resume": Recipe(
        input={"job": 1},
        answer=lambda cmd, n: {"ok": True},
        controls=[(1.0, "suspend"), (8.0, "resume")],
    ),
    "retry_backoff": Recipe(answer=_retry_backoff, latency=_retry_latency, late=True),
    "retry_exhausted_catch": Recipe(
        answer=by_uri(
            {"https://primary.example.com": unavailable, "https://backup.example.com": {"price": 10}}
        ),
    ),
    "fork_all": Recipe(
        answer=by_uri(
            {"https://api.example.com/users": ["ann", "bob"], "https://api.example.com/orders": [1, 2, 3]}
        ),
        latency=lambda cmd: 1.0 if "users" in cmd.effect_id else 0.25,
    ),
    "fork_compete": Recipe(
        answer=by_uri({"https://slow.example.com": {"from": "slow"}, "https://fast.example.com": {"from": "fast"}}),
        latency=lambda cmd: 2.0 if "slow" in cmd.effect_id else 1.0,
        late=True,
    ),
    "for_each_http": Recipe(
        input={"items": ["apple", "pear", "fig", "kiwi"]},
        answer=lambda cmd, n: {"price": 10 * (n + 1)},
    ),
    "listen_correlated": Recipe(
        answer=lambda cmd, n: {"archived": True},
        events=[
            (1.0, "/do/0/awaitOrder", _event("com.example.order.paid", {"orderId": "A"}, 1)),
            (2.0, "/do/0/awaitOrder", _event("com.example.order.shipped", {"orderId": "B"}, 2)),
            (2.5, "/do/0/awaitOrder", _event("com.example.order.paid", {"orderId": "A"}, 3)),
            (3.0, "/do/0/awaitOrder", _event("com.example.order.shipped", {"orderId": "A"}, 4)),
            (4.0, "/do/0/awaitOrder", _event("com.example.order.shipped", {"orderId": "A"}, 5)),
        ],
    ),
    "listen_until_foreach": Recipe(
        answer=lambda cmd, n: {"stored": True},
        latency=lambda cmd: 1.5,
        events=[
            (1.0, "/do/0/readings", _event("com.example.reading", {"value": 21}, 1)),
            (1.5, "/do/0/readings", _event("com.example.reading", {"value": 22}, 2)),
            (2.0, "/do/0/readings", _event("com.example.other", {"value": 0}, 3)),
            (2.5, "/do/0/readings", _event("com.example.stop", None, 4)),
            (3.0, "/do/0/readings", _event("com.example.reading", {"value": 99}, 5)),
        ],
    ),
    "task_timeout_caught": Recipe(answer=lambda cmd, n: {"report": "late"}, latency=lambda cmd: 5.0, late=True),
    "raise_after_call": Recipe(
        input={"id": "p-9", "amount": 12},
        answer=lambda cmd, n: {"id": "p-9", "status": "rejected"},
    ),
    "subflow_emit": Recipe(input={"email": "ann@example.com"}, answer=_subflow),
    "workflow_timeout": Recipe(
        events=[
            (1.0, "/do/0/collect", _event("com.example.tick", {"n": 1}, 1)),
            (2.0, "/do/0/collect", _event("com.example.tick", {"n": 2}, 2)),
            (12.0, "/do/0/collect", _event("com.example.tick", {"n": 3}, 3)),
        ],
    ),
    "cancel_midway": Recipe(answer=lambda cmd, n: "never", latency=lambda cmd: 5.0, controls=[(1.0, "cancel")]),
}
