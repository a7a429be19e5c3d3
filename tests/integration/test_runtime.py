"""The whole engine in one process, through its HTTP API, on every backend."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from flunq.effects.client import Request, Response, Transport
from flunq.runtime import Runtime
from tests.integration.harness import BACKENDS, World, running, settings_for

HELLO = """
document: {dsl: '1.0.3', namespace: demo, name: hello, version: '1.0.0'}
do:
  - greet: {set: {greeting: '${ "Hello " + .name }'}}
"""

WAIT_THEN_SET = """
document: {dsl: '1.0.3', namespace: demo, name: sleepy, version: '1.0.0'}
do:
  - nap: {wait: {milliseconds: 300}}
  - done: {set: {slept: true}}
"""

RETRYING = """
document: {dsl: '1.0.3', namespace: demo, name: flaky, version: '1.0.0'}
do:
  - attempt:
      try:
        - fetch: {call: http, with: {method: get, endpoint: 'https://flaky.test/item'}}
      catch:
        errors: {with: {status: 503}}
        retry:
          delay: {milliseconds: 50}
          backoff: {constant: {}}
          limit: {attempt: {count: 5}}
"""

CHILD = """
document: {dsl: '1.0.3', namespace: demo, name: child, version: '1.0.0'}
do:
  - double: {set: {value: '${ .value * 2 }'}}
"""

PARENT = """
document: {dsl: '1.0.3', namespace: demo, name: parent, version: '1.0.0'}
do:
  - callChild:
      run:
        workflow: {namespace: demo, name: child, version: '1.0.0', input: {value: '${ .n }'}}
  - wrap: {set: {fromChild: '${ .value }'}}
"""

LISTENER = """
document: {dsl: '1.0.3', namespace: demo, name: listener, version: '1.0.0'}
do:
  - waitForOrder:
      listen:
        to:
          one:
            with: {type: com.example.order.placed}
  - got: {set: {order: '${ .[0].id }'}}
"""

EMITTER = """
document: {dsl: '1.0.3', namespace: demo, name: emitter, version: '1.0.0'}
do:
  - announce:
      emit:
        event:
          with: {source: 'https://shop.test', type: com.example.order.placed, data: {id: '${ .id }'}}
"""

LONG_WAIT = """
document: {dsl: '1.0.3', namespace: demo, name: long, version: '1.0.0'}
do:
  - nap: {wait: PT30S}
  - after: {set: {woke: true}}
"""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_register_start_and_wait_for_the_output(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        assert (await engine.register("acme", HELLO)).status_code == 201
        record = await engine.run("acme", "demo", "hello", {"name": "Ada"})
        assert record["status"] == "completed"
        assert record["output"] == {"greeting": "Hello Ada"}
        journal = (await engine.api.get(f"/api/v1/acme/executions/{record['id']}/events")).json()["items"]
        types = [item["type"] for item in journal]
        assert types[0] == "io.flunq.fact.started.v1"
        assert "io.serverlessworkflow.workflow.completed.v1" in types
        assert [item["flunqseq"] for item in journal] == list(range(1, len(journal) + 1))


async def test_waits_go_through_the_timer_role(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", WAIT_THEN_SET)
        started = asyncio.get_running_loop().time()
        record = await engine.run("acme", "demo", "sleepy")
        assert record["status"] == "completed", record
        assert record["output"] == {"slept": True}
        elapsed = asyncio.get_running_loop().time() - started
        assert 0.3 <= elapsed < 1.3  # fires on time: well under a second late


async def test_retries_until_the_service_answers(backend: str, tmp_path) -> None:
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, json={"busy": True})
        return httpx.Response(200, json={"item": 42})

    async with running(settings_for(backend, str(tmp_path)), World({"/item": flaky})) as engine:
        await engine.register("acme", RETRYING)
        record = await engine.run("acme", "demo", "flaky")
        assert record["status"] == "completed", record
        assert record["output"] == {"item": 42}
        assert len(calls) == 3


async def test_a_child_workflow_runs_and_returns(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", CHILD)
        await engine.register("acme", PARENT)
        record = await engine.run("acme", "demo", "parent", {"n": 21})
        assert record["status"] == "completed", record
        assert record["output"] == {"fromChild": 42}


async def test_an_emitted_event_reaches_a_listening_execution(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", LISTENER)
        await engine.register("acme", EMITTER)
        listening = await engine.run("acme", "demo", "listener", wait=0)
        assert (await engine.until("acme", listening["id"], "waiting"))["status"] == "waiting"
        emitted = await engine.run("acme", "demo", "emitter", {"id": "o-7"})
        assert emitted["status"] == "completed"
        done = await engine.get("acme", listening["id"], wait=10)
        assert done["status"] == "completed", done
        assert done["output"] == {"order": "o-7"}


async def test_cancel_suspend_and_resume(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", LONG_WAIT)
        first = await engine.run("acme", "demo", "long", wait=0)
        await engine.until("acme", first["id"], "waiting")
        assert (await engine.api.post(f"/api/v1/acme/executions/{first['id']}/suspend")).status_code == 202
        assert (await engine.until("acme", first["id"], "suspended"))["status"] == "suspended"
        await engine.api.post(f"/api/v1/acme/executions/{first['id']}/resume")
        assert (await engine.until("acme", first["id"], "waiting"))["status"] == "waiting"
        await engine.api.post(f"/api/v1/acme/executions/{first['id']}/cancel")
        assert (await engine.until("acme", first["id"], "cancelled"))["status"] == "cancelled"


async def test_an_idempotency_key_starts_one_execution(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", HELLO)
        url = "/api/v1/acme/workflows/demo/hello/executions"
        headers = {"Idempotency-Key": "order-1"}
        one = await engine.api.post(url, json={"input": {"name": "A"}}, headers=headers)
        two = await engine.api.post(url, json={"input": {"name": "B"}}, headers=headers)
        assert (one.status_code, two.status_code) == (201, 200)
        assert one.json()["id"] == two.json()["id"]


async def test_tenants_do_not_see_each_other(backend: str, tmp_path) -> None:
    async with running(settings_for(backend, str(tmp_path))) as engine:
        await engine.register("acme", HELLO)
        record = await engine.run("acme", "demo", "hello", {"name": "A"})
        assert (await engine.api.get(f"/api/v1/globex/executions/{record['id']}")).status_code == 404
        assert (await engine.api.get(f"/api/v1/globex/executions/{record['id']}/events")).status_code == 404
        start = await engine.api.post("/api/v1/globex/workflows/demo/hello/executions", json={})
        assert start.status_code == 404
        assert (await engine.api.get("/api/v1/globex/workflows")).json() == {"items": []}


async def test_a_broken_definition_gets_a_located_problem(tmp_path) -> None:
    async with running(settings_for("memory", str(tmp_path))) as engine:
        broken = HELLO.replace("set: {", "sett: {")
        response = await engine.register("acme", broken)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["errors"][0]["pointer"] == "/do/0/greet"
        assert problem["errors"][0]["line"] == 4
        assert "unknown task type" in problem["detail"]


async def test_malformed_requests_are_rejected_cleanly(tmp_path) -> None:
    async with running(settings_for("memory", str(tmp_path))) as engine:
        await engine.register("acme", HELLO)
        url = "/api/v1/acme/workflows/demo/hello/executions"
        assert (await engine.api.post(url, content=b"{nope")).status_code == 400
        assert (await engine.api.post(url, json=[1, 2])).status_code == 400
        assert (await engine.api.post(url, json={"inputs": 1})).status_code == 400
        assert (await engine.api.post(url + "?wait=abc", json={})).status_code == 400
        assert (await engine.api.post("/api/v1/Bad_Tenant!/workflows", content=HELLO)).status_code == 400
        assert (await engine.register("acme", "\xff\xfe junk")).status_code == 400
        assert (await engine.api.get("/api/v1/acme/executions/nope")).status_code == 404


async def test_the_same_version_with_other_content_conflicts(tmp_path) -> None:
    async with running(settings_for("memory", str(tmp_path))) as engine:
        assert (await engine.register("acme", HELLO)).status_code == 201
        assert (await engine.register("acme", HELLO)).status_code == 201
        changed = HELLO.replace("Hello", "Hi")
        assert (await engine.register("acme", changed)).status_code == 409


async def test_run_tasks_are_off_unless_enabled(tmp_path) -> None:
    shell = """
document: {dsl: '1.0.3', namespace: demo, name: shell, version: '1.0.0'}
do:
  - say: {run: {shell: {command: 'echo hi'}}}
"""
    async with running(settings_for("memory", str(tmp_path))) as engine:
        await engine.register("acme", shell)
        record = await engine.run("acme", "demo", "shell")
        assert record["status"] == "faulted"
        assert record["error"]["type"].endswith("/authorization")
        assert "FLUNQ_ALLOW_RUN=shell" in record["error"]["detail"]
    async with running(settings_for("memory", str(tmp_path), allow_run=("shell",))) as engine:
        await engine.register("acme", shell)
        record = await engine.run("acme", "demo", "shell")
        assert record["status"] == "completed", record
        assert record["output"] == "hi\n"


async def test_timers_that_fell_due_while_stopped_fire_after_restart(tmp_path) -> None:
    settings = settings_for("sqlite", str(tmp_path))
    async with running(settings) as engine:
        await engine.register("acme", WAIT_THEN_SET)
        record = await engine.run("acme", "demo", "sleepy", wait=0)
        await engine.until("acme", record["id"], "waiting")
    await asyncio.sleep(0.5)  # the 300 ms timer falls due while nothing runs
    async with running(settings) as engine:
        done = await engine.get("acme", record["id"], wait=10)
        assert done["status"] == "completed", done
        assert done["output"] == {"slept": True}


def test_problem_bodies_are_json() -> None:
    from flunq.api.responses import Problem

    body = json.loads(Problem(404, "Not Found", "no such thing", instance="/x").body)
    assert body == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such thing",
                    "instance": "/x"}


class CountingTransport(Transport):
    """An effect transport that holds each call a moment and counts how many overlap."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.calls = 0

    async def exchange(self, request: Request) -> Response:
        self.running += 1
        self.calls += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        return Response(200, "OK", [("content-type", "application/json")], b"{}", request)

    async def aclose(self) -> None:
        return None


async def test_the_executor_runs_no_more_effects_at_once_than_its_concurrency(tmp_path) -> None:
    transport = CountingTransport()
    fan = "document: {dsl: '1.0.3', namespace: demo, name: fan, version: '1.0.0'}\ndo:\n  - f:\n      fork:\n        branches:\n"
    fan += "".join(f"          - b{i}: {{call: http, with: {{method: get, endpoint: 'https://svc.test/{i}'}}}}\n" for i in range(8))
    runtime = Runtime(settings_for("memory", str(tmp_path), executor_concurrency=2), http_client=transport)
    task = asyncio.create_task(runtime.run())
    try:
        await runtime.started.wait()
        assert runtime.engine is not None
        await runtime.engine.register("acme", fan)
        record, _ = await runtime.engine.start("acme", "demo", "fan", {})
        done = await runtime.engine.wait("acme", record.id, 10)
        assert done.status == "completed", done.error
        assert (transport.calls, transport.most) == (8, 2)
    finally:
        runtime.stop()
        await task
