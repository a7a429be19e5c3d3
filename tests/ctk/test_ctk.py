"""The CNCF Serverless Workflow conformance suite (CTK), one test per scenario.

Reads ``../shared/spec/ctk/features/*.feature``; skips when that folder is absent.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flunq.dsl import load
from flunq.effects import EffectContext
from flunq.interpreter import Definition
from flunq.runner import LocalRunner
from tests.ctk import petstore
from tests.ctk.gherkin import Scenario, Step, parse

FEATURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "ctk" / "features"
SCENARIOS = [s for path in sorted(FEATURES.glob("*.feature")) for s in parse(path)] if FEATURES.is_dir() else []


class World:
    def __init__(self) -> None:
        self.definition: Definition | None = None
        self.input: Any = {}
        self.state: Any = None
        self.trace: list[str] = []

    @property
    def output(self) -> Any:
        return self.state.output


def _path(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"no property {dotted!r} in {value!r}"
        value = value[part]
    return value


async def _execute(world: World) -> None:
    assert world.definition is not None
    context = EffectContext(httpx.AsyncClient(transport=petstore.transport()))
    runner = LocalRunner(effects_context=context)
    try:
        execution = await asyncio.wait_for(runner.run(world.definition, world.input), timeout=10)
    finally:
        await runner.aclose()
    world.state = execution.state
    top = {i.ref: i.name for i in world.definition.lists["/do"]}
    for event in execution.events:
        if event.type.endswith("task.started.v1") and event.data["task"] in top:
            world.trace.append(top[event.data["task"]])


STEPS: list[tuple[str, Any]] = []


def step(pattern: str) -> Any:
    def register(fn: Any) -> Any:
        STEPS.append((pattern, fn))
        return fn

    return register


@step(r"a workflow with definition:")
def _definition(world: World, doc: str) -> None:
    loaded = load(doc, "scenario")
    world.definition = Definition(loaded.workflow, loaded.data)


@step(r"given the workflow input is:")
def _input(world: World, doc: str) -> None:
    world.input = yaml.safe_load(doc)


@step(r"the workflow is executed")
def _executed(world: World, doc: None) -> None:
    asyncio.run(_execute(world))


@step(r"the workflow should complete")
def _completes(world: World, doc: None) -> None:
    assert world.state.status == "completed", world.state.error


@step(r"the workflow should complete with output:")
def _completes_with(world: World, doc: str) -> None:
    assert world.state.status == "completed", world.state.error
    assert world.output == yaml.safe_load(doc)


@step(r"the workflow should fault")
def _faults(world: World, doc: None) -> None:
    assert world.state.status == "faulted"


@step(r"the workflow should fault with error:")
def _faults_with(world: World, doc: str) -> None:
    assert world.state.status == "faulted"
    expected = yaml.safe_load(doc)
    assert {k: world.state.error.get(k) for k in expected} == expected


@step(r"the workflow output should have properties (?P<props>.+)")
def _has_properties(world: World, doc: None, props: str) -> None:
    for prop in re.findall(r"'([^']+)'", props):
        _path(world.output, prop)


@step(r"the workflow output should have a '(?P<path>[^']+)' property with value:")
def _property_value(world: World, doc: str, path: str) -> None:
    assert _path(world.output, path) == yaml.safe_load(doc)


@step(r"the workflow output should have a '(?P<path>[^']+)' property containing (?P<n>\d+) items")
def _property_items(world: World, doc: None, path: str, n: str) -> None:
    assert len(_path(world.output, path)) == int(n)


@step(r"(?P<task>[\w-]+) should run (?P<pos>first|last)")
def _runs_at(world: World, doc: None, task: str, pos: str) -> None:
    assert world.trace, "no task ran"
    assert world.trace[0 if pos == "first" else -1] == task, world.trace


@step(r"(?P<a>[\w-]+) should run (?P<rel>before|after) (?P<b>[\w-]+)")
def _runs_relative(world: World, doc: None, a: str, rel: str, b: str) -> None:
    first, second = world.trace.index(a), world.trace.index(b)
    assert (first < second) if rel == "before" else (first > second), world.trace


def run_step(world: World, s: Step) -> None:
    for pattern, fn in STEPS:
        match = re.fullmatch(pattern, s.text)
        if match:
            fn(world, s.doc, **match.groupdict())
            return
    raise AssertionError(f"no implementation for step {s.keyword} {s.text!r} (line {s.line})")


@pytest.mark.skipif(not SCENARIOS, reason=f"conformance features not found at {FEATURES}")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.path.stem}: {s.name}" for s in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    world = World()
    for s in scenario.steps:
        run_step(world, s)


def test_all_21_scenarios_are_collected() -> None:
    if not FEATURES.is_dir():
        pytest.skip(f"conformance features not found at {FEATURES}")
    assert len(SCENARIOS) == 21
