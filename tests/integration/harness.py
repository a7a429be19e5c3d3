"""An in-process engine for integration tests: a Runtime on a chosen backend, its API on a
free port, an httpx client for the API, and a mock HTTP world for workflow calls."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from flunq.roles.api import ApiRole
from flunq.runtime import Runtime
from flunq.settings import Settings
from tests.contract.store_backends import REDIS_URL, need_redis

BACKENDS = ["memory", "sqlite", "redis"]


def settings_for(backend: str, tmp: str, **changes: Any) -> Settings:
    if backend == "memory":
        base = Settings(store="memory://", bus="memory://")
    elif backend == "sqlite":
        base = Settings(store=f"sqlite:///{tmp}/flunq.db", bus="memory://")
    else:
        need_redis()
        url = f"{REDIS_URL}?prefix=it{uuid.uuid4().hex[:10]}"
        base = Settings(store=url, bus=url)
    defaults: dict[str, Any] = {"port": 0, "timer_poll": 0.01, "redeliver_after": 5.0}
    defaults.update(changes)
    return base.with_(**defaults)


@dataclass
class World:
    """Answers the workflows' HTTP calls: ``routes`` maps a path to a handler."""

    routes: dict[str, Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        handler = self.routes.get(request.url.path)
        if handler is None:
            return httpx.Response(404, json={"error": "no route"})
        return handler(request)


@dataclass
class Engine:
    runtime: Runtime
    api: httpx.AsyncClient
    world: World

    async def register(self, tenant: str, source: str) -> httpx.Response:
        return await self.api.post(f"/api/v1/{tenant}/workflows", content=source)

    async def run(self, tenant: str, namespace: str, name: str, data: Any = None, wait: float = 10,
                  **body: Any) -> dict[str, Any]:
        response = await self.api.post(
            f"/api/v1/{tenant}/workflows/{namespace}/{name}/executions?wait={wait}", json={"input": data, **body}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    async def get(self, tenant: str, execution_id: str, wait: float = 0) -> dict[str, Any]:
        suffix = f"?wait={wait}" if wait else ""
        response = await self.api.get(f"/api/v1/{tenant}/executions/{execution_id}{suffix}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def until(self, tenant: str, execution_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            record = await self.get(tenant, execution_id)
            if record["status"] == status or asyncio.get_running_loop().time() > deadline:
                return record
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(settings: Settings, world: World | None = None) -> AsyncIterator[Engine]:
    world = world or World()
    client = httpx.AsyncClient(transport=httpx.MockTransport(world.handle))
    runtime = Runtime(settings, http_client=client)
    task = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.started.wait(), 10)
        api_role = next((r for r in runtime.roles if isinstance(r, ApiRole)), None)
        base = "http://127.0.0.1"
        if api_role is not None:
            await asyncio.wait_for(api_role.ready.wait(), 10)
            base = f"http://127.0.0.1:{api_role.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            yield Engine(runtime, api, world)
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 30)
        await client.aclose()
