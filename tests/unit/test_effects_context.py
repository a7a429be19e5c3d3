"""The shared effect context (caches, client ownership) and the ``perform`` dispatcher."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest

import flunq.effects as effects
from flunq.effects import EffectContext, TTLCache, perform, register
from flunq.effects.adapter import HttpxTransport
from flunq.effects.lean import LeanTransport
from flunq.errors import ERROR_TYPE_PREFIX, ExpressionError, WorkflowError
from flunq.interpreter.protocol import Perform


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TTLCache[str] = TTLCache(ttl=10, clock=clock)
    cache.set("a", "1")
    cache.set("b", "2", ttl=100)
    cache.set("c", "3", ttl=0)  # not kept at all
    clock.now = 10
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "2", None)
    assert len(cache) == 1


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache: TTLCache[int] = TTLCache(maxsize=2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.set("c", 3)
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)


async def test_concurrent_loads_of_one_key_load_once() -> None:
    cache: TTLCache[str] = TTLCache()
    loads = 0

    async def load() -> tuple[str, float | None]:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "doc", None

    results = await asyncio.gather(*(cache.get_or_load("uri", load) for _ in range(5)))
    assert results == ["doc"] * 5
    assert loads == 1
    assert cache._locks == {}  # no lock left behind


async def test_a_failed_load_caches_nothing_and_is_retried() -> None:
    cache: TTLCache[str] = TTLCache()

    async def broken() -> tuple[str, float | None]:
        raise RuntimeError("down")

    async def working() -> tuple[str, float | None]:
        return "doc", None

    with pytest.raises(RuntimeError):
        await cache.get_or_load("uri", broken)
    assert await cache.get_or_load("uri", working) == "doc"


async def test_the_context_closes_only_the_transport_it_created() -> None:
    injected = httpx.AsyncClient()
    async with EffectContext(injected) as ctx:
        assert isinstance(ctx.transport, HttpxTransport)
    assert not injected.is_closed
    await injected.aclose()
    lean = LeanTransport()
    async with EffectContext(transport=lean):
        pass
    assert not lean.is_closed
    await lean.aclose()
    ctx = EffectContext()
    assert isinstance(ctx.transport, LeanTransport)
    await ctx.aclose()
    assert ctx.transport.is_closed


async def test_http_accepts_an_httpx_transport_or_one_of_ours() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json={"via": "transport"}))
    command = Perform(effect_id="e", kind="http", args={"method": "get", "uri": "https://x.test/"})
    assert await perform(command, EffectContext(mock)) == {"via": "transport"}
    ours = HttpxTransport(mock)
    ctx = EffectContext(ours)
    assert ctx.transport is ours
    assert await perform(command, ctx) == {"via": "transport"}
    with pytest.raises(TypeError):
        EffectContext(object())  # type: ignore[arg-type]


async def test_perform_runs_the_handler_of_the_command_kind() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"path": request.url.path}))
    async with httpx.AsyncClient(transport=transport) as client:
        ctx = EffectContext(client)
        command = Perform(effect_id="/do/0/get", kind="http", args={"method": "get", "uri": "https://x.test/a"})
        assert await perform(command, ctx) == {"path": "/a"}


async def test_an_unknown_kind_is_a_runtime_error_501() -> None:
    async with EffectContext() as ctx:
        with pytest.raises(WorkflowError) as caught:
            await perform(Perform(effect_id="e", kind="carrier-pigeon", args={}), ctx)
    error = caught.value.problem
    assert error["type"] == ERROR_TYPE_PREFIX + "runtime"
    assert (error["status"], error["title"]) == (501, "Not Implemented")
    assert "carrier-pigeon" in error["detail"]


@pytest.mark.parametrize(("kind", "expected"), [("grpc", "communication"), ("shell", "runtime")])
async def test_unexpected_handler_failures_become_workflow_errors(
    monkeypatch: pytest.MonkeyPatch, kind: str, expected: str
) -> None:
    async def broken(args: dict[str, Any], ctx: EffectContext) -> Any:
        raise KeyError("oops")

    monkeypatch.setitem(effects.HANDLERS, kind, broken)
    async with EffectContext() as ctx:
        with pytest.raises(WorkflowError) as caught:
            await perform(Perform(effect_id="e", kind=kind, args={}), ctx)
    assert caught.value.problem["type"] == ERROR_TYPE_PREFIX + expected
    assert caught.value.problem["status"] == 500


async def test_registered_handlers_and_expression_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async def templated(args: dict[str, Any], ctx: EffectContext) -> Any:
        raise ExpressionError("not a scalar", expression="{x}", pointer="/do/0/t")

    monkeypatch.setattr(effects, "HANDLERS", dict(effects.HANDLERS))
    register("templated", templated)
    async with EffectContext() as ctx:
        with pytest.raises(WorkflowError) as caught:
            await perform(Perform(effect_id="e", kind="templated", args={}), ctx)
    error = caught.value.problem
    assert (error["type"], error["status"]) == (ERROR_TYPE_PREFIX + "expression", 400)
    assert "instance" not in error  # the interpreter sets it


def test_importing_the_interpreter_does_not_import_http_machinery() -> None:
    # The workflow side (interpreter) never loads the executor's HTTP client.
    code = "import sys, flunq.interpreter.execution; print('httpx' in sys.modules, 'flunq.effects' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_production_http_path_does_not_import_httpx() -> None:
    # httpx is for tests (injected mock transports) only: the executor's calls go around it.
    code = (
        "import sys, flunq.effects.http, flunq.effects.openapi, flunq.effects.lean\n"
        "from flunq.effects import EffectContext\n"
        "EffectContext()\n"
        "print('httpx' in sys.modules, 'aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
