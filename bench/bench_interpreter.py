"""Benchmark of the pure interpreter: tasks per second and the cost of an expression.

Run with ``python bench/bench_interpreter.py`` (about 8 s). Each measurement calls
``advance(definition, None, Started(...))`` in a loop, i.e. runs a whole pure workflow in one
step, and reports:

- the rate of a 10-task ``set`` chain and of a ``for`` over 100 items (one ``set`` each), in
  executions/s and tasks/s (tasks = what the step budget counts);
- the cost of one expression evaluation: a 10-task chain of ``set`` with constant values
  (the baseline) against the same chain where each value is a ``${ }`` expression, measured
  in the same run; the difference per task is the expression's cost, the ratio is printed;
- that the 10-task chain completes within ONE ``advance`` call, with no command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flunq.dsl import load
from flunq.interpreter import Definition, advance
from flunq.interpreter.protocol import Started

SECONDS = 1.5
HEADER = "document: {dsl: '1.0.3', namespace: bench, name: b, version: '1.0.0'}\n"


def chain(value: str, length: int = 10) -> str:
    tasks = "".join(f"  - t{i}:\n      set: {value}\n" for i in range(length))
    return HEADER + "do:\n" + tasks


FOR_100 = HEADER + """do:
  - loop:
      for:
        in: .items
      do:
        - one:
            set: {seen: true}
"""

WORKFLOWS = {
    "set chain x10 (constants)": (chain("{n: 1, label: fixed}"), {"n": 0}),
    "set chain x10 (expressions)": (chain("'${ {n: (.n + 1), label: \"fixed\"} }'"), {"n": 0}),
    "for x100 (one set each)": (FOR_100, {"items": list(range(100))}),
}


def definition(text: str) -> Definition:
    loaded = load(text, "bench.yaml")
    return Definition(loaded.workflow, loaded.data)


def run_once(defn: Definition, data: Any) -> Any:
    return advance(defn, None, Started(at="2026-01-01T00:00:00.000000Z", execution_id="bench", input=data))


def rate(call: Callable[[], Any]) -> float:
    """Calls per second of ``call``, measured for about :data:`SECONDS`."""
    count, start = 0, time.perf_counter()
    deadline = start + SECONDS
    while True:
        for _ in range(10):
            call()
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> int:
    rows = []
    results: dict[str, tuple[float, int]] = {}
    for label, (text, data) in WORKFLOWS.items():
        defn = definition(text)
        step = run_once(defn, data)  # warm up caches (expressions, validators)
        assert step.state.status == "completed", step.state.error
        tasks = step.state.steps
        per_second = rate(lambda defn=defn, data=data: run_once(defn, data))
        results[label] = (per_second, tasks)
        rows.append((label, tasks, per_second, per_second * tasks))

    print(f"{'workflow':<30} {'tasks':>6} {'executions/s':>14} {'tasks/s':>12}")
    for label, tasks, per_second, task_rate in rows:
        print(f"{label:<30} {tasks:>6} {per_second:>14,.0f} {task_rate:>12,.0f}")

    const_rate, n = results["set chain x10 (constants)"]
    expr_rate, _ = results["set chain x10 (expressions)"]
    per_task_const = 1 / (const_rate * n)
    per_task_expr = 1 / (expr_rate * n)
    print()
    print(f"set task, constant value:   {per_task_const * 1e6:8.1f} us/task (baseline)")
    print(f"set task, expression value: {per_task_expr * 1e6:8.1f} us/task")
    print(f"expression cost per evaluation: {(per_task_expr - per_task_const) * 1e6:.1f} us "
          f"(ratio expression/constant task: {per_task_expr / per_task_const:.2f}x)")

    step = run_once(definition(WORKFLOWS["set chain x10 (constants)"][0]), {"n": 0})
    one_call = step.state.status == "completed" and step.commands == [] and step.state.steps == 10
    print()
    print(f"10-task chain completes within one advance call, no commands: {'yes' if one_call else 'NO'}")
    assert one_call, (step.state.status, step.commands)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
