"""A mix of executions started through the API, and the checks made once they ended."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.e2e import workflows
from tests.e2e.support import Api, EffectServer, facts, journal_problems

BUILDERS = {"chain": workflows.chain, "waits": workflows.waits, "retries": workflows.retries, "loop": workflows.loop,
            "slow": workflows.slow}
COMPLETED = "io.serverlessworkflow.workflow.completed.v1"
PARALLEL = 8  # API requests in flight at once


@dataclass
class Started:
    id: str
    name: str
    data: Any


@dataclass
class Workload:
    api: Api
    server: EffectServer
    started: list[Started] = field(default_factory=list)

    def register(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.api.register(BUILDERS[name](self.server.url))

    def start(self, mix: dict[str, int]) -> None:
        """Start ``mix[name]`` executions of each workflow, interleaved, a few at a time
        (so that they all run at once rather than one after the other)."""
        names: list[str] = []
        left = dict(mix)
        while any(left.values()):
            for name in mix:
                if left[name]:
                    left[name] -= 1
                    names.append(name)
        with ThreadPoolExecutor(PARALLEL) as pool:
            self.started += pool.map(self._start_one, names, range(len(names)))

    def _start_one(self, name: str, n: int) -> Started:
        data: Any = None
        if name == "waits":
            data = {"tag": f"w{n}"}
        elif name == "loop":
            data = {"items": list(range(1, 2 + n % 3))}
        record = self.api.start(workflows.NAMESPACE, name, data)
        return Started(record["id"], name, data)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.started]

    def count_ended(self, stop_at: int) -> int:
        """How many executions ended, counting until ``stop_at`` is reached."""
        ended = 0
        for s in self.started:
            if self.api.get(s.id)["status"] in ("completed", "faulted", "cancelled"):
                ended += 1
                if ended >= stop_at:
                    break
        return ended

    def verify(self, records: dict[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Check outputs, journals and effect counters; return every journal (by order)."""
        problems: list[str] = []
        journals: list[list[dict[str, Any]]] = []
        for s in self.started:
            record = records[s.id]
            if record["status"] != "completed":
                problems.append(f"{s.name} {s.id}: {record['status']} {record.get('error')}")
                journals.append([])
                continue
            want = workflows.expected(s.name, s.id, s.data)
            if record.get("output") != want:
                problems.append(f"{s.name} {s.id}: output {record.get('output')!r}, expected {want!r}")
            items = self.api.events(s.id)
            journals.append(items)
            problems += [f"{s.name} {s.id}: {p}" for p in journal_problems(items)]
            problems += self._effects_problems(s, items)
        assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:30])
        return journals

    def _effects_problems(self, s: Started, items: list[dict[str, Any]]) -> list[str]:
        """Every effect reached the server at least once, and every applied effect fact
        matches at least one request the server saw (effects are at least once)."""
        out = []
        wanted = workflows.effects_of(s.name, s.id, s.data)
        for route, key, step in wanted:
            if self.server.count(route, key, step) < 1:
                out.append(f"{s.name} {s.id}: the server never saw {route}/{step}")
        applied = len(facts(items, "effect.completed")) + len(facts(items, "effect.failed"))
        seen = sum(self.server.count(route, key, step) for route, key, step in set(wanted))
        if applied > seen:
            out.append(f"{s.name} {s.id}: {applied} effect results applied but only {seen} requests made")
        if len([i for i in items if i.get("type") == COMPLETED]) != 1:
            out.append(f"{s.name} {s.id}: workflow.completed is not in the journal exactly once")
        return out


def completed_after(journals: list[list[dict[str, Any]]], moment: float) -> int:
    """How many journals say their workflow completed after ``moment`` (epoch seconds)."""
    count = 0
    for items in journals:
        for item in items:
            if item.get("type") == COMPLETED and _epoch(item["time"]) > moment:
                count += 1
    return count


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
