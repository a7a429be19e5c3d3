"""Graceful stop: SIGTERM (or SIGINT) makes ``flunq serve`` exit 0 within its shutdown
timeout, and a new ``flunq serve`` on the same data directory picks up where it stopped."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.support import Api, EffectServer, FlunqProcess, free_port, running, wait_for
from tests.e2e.workload import Workload

pytestmark = pytest.mark.slow

SHUTDOWN_TIMEOUT = 3.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_exits_0_and_a_restart_finishes_the_work(
    tmp_path: Path, effect_server: EffectServer, sig: signal.Signals
) -> None:
    settings = {"shutdown_timeout": str(SHUTDOWN_TIMEOUT)}
    first = FlunqProcess("first", tmp_path, port=free_port(), data_dir=tmp_path / "data", settings=settings)
    second = FlunqProcess("second", tmp_path, port=free_port(), data_dir=tmp_path / "data", settings=settings)
    with running([first, second]):
        first.start().wait_ready()
        assert first.url is not None and second.url is not None
        api = Api(first.url)
        work = Workload(api, effect_server)
        work.register(("waits", "chain"))
        work.start({"waits": 10, "chain": 10})  # still running when the signal comes

        asked = time.monotonic()
        first.signal(sig)
        code = first.wait(timeout=SHUTDOWN_TIMEOUT + 10)
        took = time.monotonic() - asked
        assert code == 0, first.log()
        assert took < SHUTDOWN_TIMEOUT + 2, f"took {took:.1f}s to stop"
        assert "Traceback" not in first.log(tail=1 << 20), first.log()
        api.close()

        second.start().wait_ready()
        work.api = Api(second.url)
        records = work.api.wait_all_ended(work.ids, timeout=30, alive=second.assert_alive)
        work.verify(records)
        work.api.close()


def test_a_stop_does_not_wait_for_a_hung_effect_beyond_the_shutdown_timeout(
    tmp_path: Path, effect_server: EffectServer
) -> None:
    settings = {"shutdown_timeout": str(SHUTDOWN_TIMEOUT)}
    flunq = FlunqProcess("flunq", tmp_path, port=free_port(), data_dir=tmp_path / "data", settings=settings)
    with running([flunq]):
        flunq.start().wait_ready()
        assert flunq.url is not None
        work = Workload(Api(flunq.url), effect_server)
        work.register(("slow",))
        work.start({"slow": 3})
        # Each first call hangs for 30 s on the server: the executor is stuck in it.
        wait_for("the slow calls to reach the server",
                 lambda: all(effect_server.count("slow", i) for i in work.ids), timeout=10)

        asked = time.monotonic()
        flunq.signal(signal.SIGTERM)
        code = flunq.wait(timeout=SHUTDOWN_TIMEOUT + 10)
        took = time.monotonic() - asked
        assert code == 0, flunq.log()
        assert took < SHUTDOWN_TIMEOUT + 2, f"took {took:.1f}s to stop"
        work.api.close()

        # The effects were in flight: the next start performs them again (at least once).
        flunq.start().wait_ready()
        work.api = Api(flunq.url)
        records = work.api.wait_all_ended(work.ids, timeout=20, alive=flunq.assert_alive)
        work.verify(records)
        assert all(effect_server.count("slow", i) == 2 for i in work.ids)
        work.api.close()
