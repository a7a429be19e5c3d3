"""Wiring of the roles: one process runs any subset of api, worker, executor, timer.

:class:`Runtime` opens the store and the bus named by the settings, builds the roles it
was asked for, and runs each as a named task. It is a supervisor: when any role's task
ends on its own (a bug), the others are stopped and :meth:`Runtime.run` raises, so the
process exits instead of limping on without that role. On SIGTERM/SIGINT every role stops
taking new work and gets ``shutdown_timeout`` seconds to finish what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from typing import Any

from flunq import effects
from flunq.bus import open_bus
from flunq.engine import Engine
from flunq.errors import FlunqError
from flunq.interpreter import Env
from flunq.roles.base import Role
from flunq.roles.executor import Executor
from flunq.roles.router import Router
from flunq.roles.stepper import StateCache, Stepper
from flunq.roles.sweeper import Sweeper
from flunq.roles.timer import TimerRole
from flunq.roles.worker import Worker
from flunq.settings import Settings, load_secrets
from flunq.store import open_store, redact

log = logging.getLogger("flunq")


class RoleFailed(FlunqError):
    """A role's task ended on its own; the process must stop."""


class Runtime:
    def __init__(self, settings: Settings, *, http_client: Any = None) -> None:
        self.settings = settings
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._http_client = http_client
        self.roles: list[Role] = []
        self.engine: Engine | None = None
        self._stop = asyncio.Event()
        self.started = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        s = self.settings
        if s.store_url.startswith("sqlite:"):
            os.makedirs(s.resolved_data_dir, exist_ok=True)
        store = open_store(s.store_url)
        bus = open_bus(s.bus, redeliver_after=s.redeliver_after, max_deliveries=s.max_deliveries)
        await store.start()
        await bus.start()
        context = (
            effects.EffectContext(self._http_client, timeout=s.http_timeout, allow_run=s.allow_run)
            if "executor" in s.roles else None
        )
        try:
            self.engine = Engine(store, bus)
            self.roles = self._roles(self.engine, context)
            log.info("flunq started: roles=%s store=%s bus=%s", ",".join(s.roles), redact(s.store_url), redact(s.bus))
            await self._supervise()
        finally:
            if context is not None:
                await context.aclose()
            await bus.close()
            await store.close()

    def _roles(self, engine: Engine, context: effects.EffectContext | None) -> list[Role]:
        s = self.settings
        roles: list[Role] = []
        if "worker" in s.roles:
            env = Env(secrets=load_secrets(s), max_steps=s.max_steps, lifecycle_outputs=s.lifecycle_outputs)
            stepper = Stepper(engine, env, StateCache(s.state_cache))
            roles.append(Worker(engine, stepper, consumer=self.consumer, batch=s.worker_batch))
            roles.append(Router(engine.store, engine.bus, consumer=self.consumer))
            roles.append(Sweeper(engine, interval=s.sweep_interval, stale_after=s.stale_after))
        if "executor" in s.roles:
            assert context is not None
            roles.append(Executor(engine.bus, context, consumer=self.consumer, concurrency=s.executor_concurrency))
        if "timer" in s.roles:
            roles.append(TimerRole(engine.store, engine.bus, poll=s.timer_poll, lease=s.timer_lease))
        if "api" in s.roles:
            from flunq.roles.api import ApiRole  # starlette/uvicorn only where the API runs

            roles.append(ApiRole(engine, host=s.host, port=s.port))
        return roles

    async def _supervise(self) -> None:
        tasks: dict[asyncio.Task[Any], Role] = {asyncio.create_task(role.run(), name=f"flunq:{role.name}"): role for role in self.roles}
        stopper = asyncio.create_task(self._stop.wait(), name="flunq:stop")
        self.started.set()
        failed: asyncio.Task[Any] | None = None
        try:
            done, _ = await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
            failed = next((t for t in done if t is not stopper), None)
        finally:
            for role in self.roles:
                role.stop()
            _, late = await asyncio.wait(tasks, timeout=self.settings.shutdown_timeout)
            for task in late:
                log.warning("role %s did not finish within %.0fs; cancelling it", tasks[task].name,
                            self.settings.shutdown_timeout)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)
            stopper.cancel()
        if failed is not None:
            error = None if failed.cancelled() else failed.exception()
            raise RoleFailed(f"role {tasks[failed].name} stopped unexpectedly: {error!r}") from error


def install_signal_handlers(runtime: Runtime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, runtime.stop)
