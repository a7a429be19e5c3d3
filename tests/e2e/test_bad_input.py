"""Bad input at the process level: broken definitions and junk bodies get located 400
problems and change nothing; junk on the bus ends in dead letters while work goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis

from flunq.bus import DeadLetter, open_bus
from tests.e2e.support import (
    Api,
    EffectServer,
    FlunqProcess,
    RedisServer,
    free_port,
    running,
    wait_for,
)
from tests.e2e.workload import Workload

pytestmark = pytest.mark.slow

BROKEN = b"""\
document:
  dsl: '1.0.0'
  namespace: e2e
  name: broken
  version: '1.0.0'
do:
  - first:
      set:
        a: 1
  - second:
      wait: nonsense
"""


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Connection": "close"}, timeout=10)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_broken_definitions_and_junk_bodies_get_located_400s(tmp_path: Path, effect_server: EffectServer) -> None:
    flunq = FlunqProcess("flunq", tmp_path, port=free_port(), data_dir=tmp_path / "data")
    with running([flunq]):
        flunq.start().wait_ready()
        assert flunq.url is not None
        api = Api(flunq.url)

        body = problem(post(f"{api.base}/workflows", BROKEN), 400)
        assert body["errors"] == [{"pointer": "/do/1/second/wait", "line": 11, "column": 7,
                                   "message": body["errors"][0]["message"]}]
        assert "nonsense" in body["errors"][0]["message"]
        assert body["detail"].startswith("request body:11:7:")

        not_yaml = problem(post(f"{api.base}/workflows", b"}{ ::: ["), 400)
        assert not_yaml["errors"][0]["line"] == 1 and "YAML" in not_yaml["errors"][0]["message"]
        assert "UTF-8" in problem(post(f"{api.base}/workflows", b"\xff\xfe\x00\x01junk"), 400)["detail"]

        # Nothing of that was registered.
        listed = httpx.get(f"{api.base}/workflows", headers={"Connection": "close"}).json()
        assert listed == {"items": []}

        work = Workload(api, effect_server)
        work.register(("chain",))
        start = f"{api.base}/workflows/e2e/chain/executions"
        assert "JSON" in problem(post(start, b"\xff junk"), 400)["detail"]
        assert "unknown member" in problem(post(start, b'{"inputs": 1}'), 400)["detail"]
        problem(post(f"{api.base}/workflows/e2e/nope/executions", b'{"input": 1}'), 404)

        # The process is fine and does real work.
        work.start({"chain": 3})
        work.verify(api.wait_all_ended(work.ids, timeout=20, alive=flunq.assert_alive))
        api.close()
    assert "Traceback" not in flunq.log(tail=1 << 20), flunq.log()


def dead_letters(url: str, topic: str) -> list[DeadLetter]:
    async def read() -> list[DeadLetter]:
        bus = open_bus(url)
        await bus.start()
        try:
            return await bus.dead_letters(topic)
        finally:
            await bus.close()

    return asyncio.run(read())


def test_undecodable_bus_messages_are_dead_lettered_and_work_goes_on(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    url = redis_server.url("junk")
    flunq = FlunqProcess("flunq", tmp_path, port=free_port(), store=url, bus=url)
    with running([flunq]):
        flunq.start().wait_ready()
        assert flunq.url is not None
        api = Api(flunq.url)
        work = Workload(api, effect_server)
        work.register(("chain", "waits"))
        work.start({"chain": 5, "waits": 5})

        client = redis.Redis(port=redis_server.port)
        junk = {
            "work": [{"b": b"\xc1\xc1 not msgpack"}, {"other": b"no body field"},
                     # well-formed, but for an execution that does not exist
                     {"b": msgspec.msgpack.encode({"tenant": "e2e", "execution_id": "nope", "type": "work"})}],
            "effects": [{"b": b"\xc1 junk effect"}, {"b": msgspec.msgpack.encode({"type": "effect"})}],
            "events": [{"b": b"\xc1 junk event"}],
        }
        for topic, entries in junk.items():
            for fields in entries:
                client.xadd(f"junk:{topic}", fields)  # type: ignore[arg-type]
        client.close()
        work.start({"chain": 5, "waits": 5})

        def all_buried() -> bool:
            flunq.assert_alive()
            return all(len(dead_letters(url, topic)) == len(entries) for topic, entries in junk.items())

        wait_for("every junk message to be dead-lettered", all_buried, timeout=20, interval=0.2)
        reasons = [d.reason for d in dead_letters(url, "work")]
        assert sum("undecodable" in r for r in reasons) == 2 and any("nope" in r for r in reasons), reasons

        work.verify(api.wait_all_ended(work.ids, timeout=30, alive=flunq.assert_alive))
        api.close()
