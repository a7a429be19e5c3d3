"""Golden journals: record the facts of a scripted run, replay them, summarise each step.

A case lives in ``cases/<name>/``: ``workflow.yaml`` (the definition), ``facts.jsonl`` (the
recorded facts, one JSON object per line, as the journal would hold them) and
``expected.json`` (what replaying those facts must give: per step the fact kind, whether it
applied, the status after it, the commands and lifecycle events; and the final status,
output and error).

:func:`record` makes the facts by simulating a runtime on a fake clock: effects answer
after a latency with what the case's :class:`Recipe` says, timers fire at their due time,
events and control requests (suspend, resume, cancel) arrive at set times.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from flunq.dsl import load_file
from flunq.interpreter import Definition, ExecutionState, advance, dump_state, load_state
from flunq.interpreter.protocol import (
    AnyFact,
    CancelEffect,
    CancelRequested,
    CancelTimer,
    Command,
    EffectCompleted,
    EffectFailed,
    Emit,
    EventReceived,
    Fact,
    Listen,
    Perform,
    ResumeRequested,
    Started,
    StartTimer,
    StartWorkflow,
    SuspendRequested,
    TimerFired,
    Unlisten,
)
from flunq.interpreter.times import later, to_epoch

CASES = Path(__file__).resolve().parent / "cases"
T0 = "2026-01-01T00:00:00.000000Z"
PREFIX = "io.serverlessworkflow."
TERMINAL = ("completed", "faulted", "cancelled")

_decoder = msgspec.json.Decoder(AnyFact)


@dataclass(frozen=True)
class Failure:
    """An effect answer that is an error (RFC 7807 object)."""

    error: dict[str, Any]


Effect = Perform | StartWorkflow


@dataclass
class Recipe:
    """How the simulated runtime behaves for one case."""

    input: Any = None
    #: The result of an effect (or a :class:`Failure`), given the command and how many
    #: times its task was performed before (0 on the first attempt).
    answer: Callable[[Effect, int], Any] = lambda cmd, n: None
    latency: Callable[[Effect], float] = lambda cmd: 0.5
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)  # (s, listener, event)
    controls: list[tuple[float, str]] = field(default_factory=list)  # (s, suspend|resume|cancel)
    late: bool = False  # still deliver answers of cancelled effects (they must be ignored)


# -- files --------------------------------------------------------------------------------


def definition(case: str) -> Definition:
    loaded = load_file(CASES / case / "workflow.yaml")
    return Definition(loaded.workflow, loaded.data)


def read_facts(case: str) -> list[Fact]:
    lines = (CASES / case / "facts.jsonl").read_text().splitlines()
    return [_decoder.decode(line) for line in lines if line.strip()]


def write_facts(case: str, facts: list[Fact]) -> None:
    text = "".join(msgspec.json.encode(f).decode() + "\n" for f in facts)
    (CASES / case / "facts.jsonl").write_text(text)


def read_expected(case: str) -> dict[str, Any]:
    return json.loads((CASES / case / "expected.json").read_text())


def write_expected(case: str, expected: dict[str, Any]) -> None:
    (CASES / case / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=False) + "\n")


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "workflow.yaml").is_file())


# -- summaries ------------------------------------------------------------------------------


def describe_command(cmd: Command) -> str:
    if isinstance(cmd, Perform):
        return f"perform:{cmd.kind} {cmd.effect_id} {_compact(cmd.args)}"
    if isinstance(cmd, StartWorkflow):
        wait = "" if cmd.wait else " (no wait)"
        return f"workflow.start {cmd.effect_id} {cmd.namespace}/{cmd.name}:{cmd.version}{wait} {_compact(cmd.input)}"
    if isinstance(cmd, CancelEffect):
        return f"cancel-effect {cmd.effect_id}"
    if isinstance(cmd, StartTimer):
        return f"timer.start {cmd.timer_id} @ {cmd.due}"
    if isinstance(cmd, CancelTimer):
        return f"timer.cancel {cmd.timer_id}"
    if isinstance(cmd, Emit):
        return f"emit {_compact(cmd.event)}"
    if isinstance(cmd, Listen):
        return f"listen {cmd.listener_id}"
    if isinstance(cmd, Unlisten):
        return f"unlisten {cmd.listener_id}"
    raise AssertionError(f"unknown command {cmd!r}")


def _compact(value: Any) -> str:
    return msgspec.json.encode(value, order="sorted").decode()


def describe_event(event: Any) -> str:
    kind = event.type.removeprefix(PREFIX).removesuffix(".v1")
    if "task" in event.data:
        return f"{kind} {event.data['task']}"
    if "status" in event.data:
        return f"{kind} {event.data['status']}"
    return kind


def fact_kind(fact: Fact) -> str:
    return str(type(fact).__struct_config__.tag)


def replay(defn: Definition, facts: list[Fact], snapshot_after: int | None = None) -> dict[str, Any]:
    """Feed ``facts`` from scratch; after fact ``snapshot_after`` continue from a snapshot."""
    state: ExecutionState | None = None
    steps = []
    for k, fact in enumerate(facts):
        step = advance(defn, state, fact)
        state = step.state
        steps.append(
            {
                "fact": fact_kind(fact),
                "applied": step.applied,
                "status": state.status,
                "commands": [describe_command(c) for c in step.commands],
                "events": [describe_event(e) for e in step.events],
            }
        )
        if k == snapshot_after:
            state = load_state(dump_state(state))
    assert state is not None, "no facts"
    final = {"status": state.status, "output": state.output, "error": state.error}
    return msgspec.to_builtins({"final": final, "steps": steps})


# -- recording ------------------------------------------------------------------------------


class _Simulation:
    """A fake runtime: a clock in seconds after T0 and a queue of future facts."""

    def __init__(self, defn: Definition, recipe: Recipe, execution_id: str) -> None:
        self.defn = defn
        self.recipe = recipe
        self.execution_id = execution_id
        self.state: ExecutionState | None = None
        self.facts: list[Fact] = []
        self.queue: list[tuple[float, int, Fact]] = []
        self.seq = itertools.count()
        self.performed: Counter[str] = Counter()

    def push(self, seconds: float, fact: Fact) -> None:
        heapq.heappush(self.queue, (seconds, next(self.seq), fact))

    def drop(self, keep: Callable[[Fact], bool]) -> None:
        self.queue = [entry for entry in self.queue if keep(entry[2])]
        heapq.heapify(self.queue)

    def feed(self, fact: Fact, seconds: float) -> None:
        step = advance(self.defn, self.state, fact)
        self.state = step.state
        self.facts.append(fact)
        for cmd in step.commands:
            self.schedule(cmd, seconds)

    def schedule(self, cmd: Command, now: float) -> None:
        if isinstance(cmd, (Perform, StartWorkflow)):
            assert self.state is not None
            if cmd.effect_id not in self.state.inflight:
                return  # fire and forget: nobody waits for an answer
            key = cmd.task if isinstance(cmd, Perform) else cmd.effect_id.split("[")[0]
            answer = self.recipe.answer(cmd, self.performed[key])
            self.performed[key] += 1
            when = now + self.recipe.latency(cmd)
            if isinstance(answer, Failure):
                fact: Fact = EffectFailed(at=later(T0, when), effect_id=cmd.effect_id, error=answer.error)
            else:
                fact = EffectCompleted(at=later(T0, when), effect_id=cmd.effect_id, result=answer)
            self.push(when, fact)
        elif isinstance(cmd, StartTimer):
            self.push(to_epoch(cmd.due) - to_epoch(T0), TimerFired(at=cmd.due, timer_id=cmd.timer_id))
        elif isinstance(cmd, CancelTimer):
            self.drop(lambda f: not (isinstance(f, TimerFired) and f.timer_id == cmd.timer_id))
        elif isinstance(cmd, CancelEffect) and not self.recipe.late:
            self.drop(lambda f: getattr(f, "effect_id", None) != cmd.effect_id)

    def wanted(self, fact: Fact) -> bool:
        """Would a runtime deliver this fact now? (Late answers only when the recipe says.)"""
        state = self.state
        assert state is not None
        if isinstance(fact, EventReceived):
            return fact.listener_id in state.listeners
        if isinstance(fact, TimerFired):
            return fact.timer_id in state.timers
        return True

    def run(self) -> list[Fact]:
        self.feed(Started(at=T0, execution_id=self.execution_id, input=self.recipe.input), 0.0)
        for seconds, listener, event in self.recipe.events:
            self.push(seconds, EventReceived(at=later(T0, seconds), listener_id=listener, event=event))
        controls = {"suspend": SuspendRequested, "resume": ResumeRequested, "cancel": CancelRequested}
        for seconds, name in self.recipe.controls:
            self.push(seconds, controls[name](at=later(T0, seconds)))
        while self.queue and self.state is not None and self.state.status not in TERMINAL:
            seconds, _, fact = heapq.heappop(self.queue)
            if self.wanted(fact):
                self.feed(fact, seconds)
        return self.facts


def record(defn: Definition, recipe: Recipe, execution_id: str) -> list[Fact]:
    return _Simulation(defn, recipe, execution_id).run()
