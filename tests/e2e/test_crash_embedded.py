"""``flunq serve`` on SQLite, SIGKILLed with work in flight and started again on the same
data directory (twice: the second kill lands while it recovers from the first): every
execution completes, with the right output, and no fact (effect result, timer firing) is
applied twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.support import Api, EffectServer, FlunqProcess, free_port, running, wait_for
from tests.e2e.workload import Workload, completed_after

pytestmark = pytest.mark.slow

MIX = {"chain": 60, "waits": 50, "retries": 50, "loop": 40}
TOTAL = sum(MIX.values())


def kill_when_ended(flunq: FlunqProcess, work: Workload, count: int) -> None:
    wait_for(f"{count} executions to end", lambda: work.count_ended(count) >= count, timeout=30, interval=0.1)
    flunq.kill()


def test_sigkill_mid_flight_then_restart_completes_everything_exactly_once(
    tmp_path: Path, effect_server: EffectServer
) -> None:
    port = free_port()
    flunq = FlunqProcess("flunq", tmp_path, port=port, data_dir=tmp_path / "data")
    with running([flunq]):
        flunq.start().wait_ready()
        assert flunq.url is not None
        api = Api(flunq.url)
        work = Workload(api, effect_server)
        work.register(tuple(MIX))
        work.start(MIX)

        # Kill once about 30% ended: the rest are mid-chain, waiting, or between retries.
        kill_when_ended(flunq, work, TOTAL * 3 // 10)
        killed_at = time.time()
        flunq.start().wait_ready()
        kill_when_ended(flunq, work, TOTAL * 6 // 10)
        flunq.start().wait_ready()

        records = work.api.wait_all_ended(work.ids, timeout=40, alive=flunq.assert_alive)
        journals = work.verify(records)
        work.api.close()

    # The crash really interrupted work: a good part of it finished only after the restart.
    recovered = completed_after(journals, killed_at)
    assert recovered >= TOTAL // 10, f"only {recovered} executions completed after the first restart"
