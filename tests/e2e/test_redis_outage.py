"""Redis goes away under a running ``flunq serve`` (all roles on Redis) and comes back
empty: the process rides it out (logs, retries, never exits), and new work completes."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

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


def answers(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5.0, headers={"Connection": "close"}).status_code
    except httpx.HTTPError:
        return None


def backed_off(flunq: FlunqProcess) -> bool:
    flunq.assert_alive()
    log = flunq.log(tail=1 << 20)
    return all(f"{role}: backend unavailable, retrying in 0.8s" in log for role in ("worker", "executor", "timer"))


def test_flunq_survives_redis_restarting_empty(
    tmp_path: Path, effect_server: EffectServer, redis_server: RedisServer
) -> None:
    url = redis_server.url("outage")
    flunq = FlunqProcess("flunq", tmp_path, port=free_port(), store=url, bus=url,
                         settings={"sweep_interval": "1", "timer_poll": "0.05"})
    with running([flunq]):
        flunq.start().wait_ready()
        assert flunq.url is not None
        api = Api(flunq.url)
        before = Workload(api, effect_server)
        before.register(("waits", "chain"))
        before.start({"waits": 10, "chain": 10})

        redis_server.signal(signal.SIGKILL)
        redis_server.wait(timeout=10)
        # The outage lasts until every role has backed off a few times (0.1+0.2+0.4+0.8 s).
        wait_for("every role to back off from the missing Redis", lambda: backed_off(flunq), timeout=20)
        # While Redis is down: the API answers 503 for what needs it, and stays up.
        assert answers(f"{flunq.url}/healthz") == 200
        gone = answers(f"{api.base}/executions/{before.ids[0]}")
        assert gone == 503, f"expected 503 while Redis is down, got {gone}"
        flunq.assert_alive()

        redis_server.start().wait_ready()  # same port, no data
        wait_for("the API to reach Redis again",
                 lambda: flunq.assert_alive() and answers(f"{api.base}/executions/{before.ids[0]}") == 404,
                 timeout=20)

        after = Workload(api, effect_server)
        after.register(("waits", "chain"))
        after.start({"waits": 10, "chain": 10})
        records = api.wait_all_ended(after.ids, timeout=30, alive=flunq.assert_alive)
        after.verify(records)
        api.close()
        flunq.assert_alive()
    assert "Traceback" not in flunq.log(tail=1 << 20), flunq.log()
