"""Benchmark of runtime expressions: the compile cache and the value walk.

Run with ``python bench/bench_expressions.py`` (about 8 s). Prints evaluations per second of
a cached expression that uses variables against the baseline of compiling the expression on
every evaluation (what a naive use of the jq binding does, since it fixes ``$variables`` at
compile time), and the cost of :func:`evaluate_value` on a value without expressions against
copying that value.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jq

from flunq.expressions import clear_cache, compile_expression, evaluate_value

SECONDS = 1.5
TEXT = "{ total: ([.items[] | .price * .qty] | add), user: $context.user, position: $index }"
DATA = {"items": [{"price": p, "qty": p % 3 + 1} for p in range(10)]}
VARIABLES = {
    "context": {"user": "ada"},
    "index": 3,
    # Large and unreferenced: it must cost nothing.
    "workflow": {"definition": {"do": [{f"task{i}": {"set": {"x": i}}} for i in range(500)]}},
}
EXPRESSION_FREE = {
    "endpoint": {"uri": "https://example.com/api/v1/orders", "authentication": {"use": "oauth"}},
    "headers": {"Content-Type": "application/json", "Accept": "application/json"},
    "body": {"order": {"lines": [{"sku": f"sku-{i}", "qty": i} for i in range(8)], "note": "x"}},
    "query": {"page": 1, "size": 50, "sort": "desc"},
}


def rate(call: Callable[[], Any]) -> float:
    """Calls per second of ``call``, measured for about :data:`SECONDS`."""
    count, start = 0, time.perf_counter()
    deadline = start + SECONDS
    while True:
        for _ in range(50):
            call()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    clear_cache()
    expression = compile_expression(TEXT)
    expected = expression.evaluate(DATA, VARIABLES)
    used = {name: VARIABLES[name] for name in expression.variables}
    baseline = jq.compile(TEXT, args=used).input_value(DATA).first()
    assert expected == baseline == {"total": 87, "user": "ada", "position": 3}, expected

    cached = rate(lambda: expression.evaluate(DATA, VARIABLES))
    recompiled = rate(lambda: jq.compile(TEXT, args=used).input_value(DATA).first())
    print(f"jq, cached compile + variables in the input : {cached:12,.0f} evaluations/s")
    print(f"jq, compile on every evaluation (baseline)  : {recompiled:12,.0f} evaluations/s")
    print(f"speed-up                                    : {cached / recompiled:12.1f} x")

    assert evaluate_value(EXPRESSION_FREE, DATA, VARIABLES) is EXPRESSION_FREE
    walk = rate(lambda: evaluate_value(EXPRESSION_FREE, DATA, VARIABLES))
    deep = rate(lambda: copy.deepcopy(EXPRESSION_FREE))
    print(f"evaluate_value, expression-free dict       : {1e6 / walk:12.2f} us/call")
    print(f"copy.deepcopy of the same dict (baseline)  : {1e6 / deep:12.2f} us/call")
    print(f"speed-up                                    : {walk / deep:12.1f} x")


if __name__ == "__main__":
    main()
