"""Checks of task lists: unique names, flow directives, switch cases.

A ``then`` may only name a task of the *same* list (DSL §"Flow directives"); the engine
resolves it by name, so names must be unique in their list, and a task named like a
directive (``end``) could never be reached by ``then``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from flunq.dsl import model as m
from flunq.dsl.positions import escape
from flunq.dsl.problems import Problems, listing
from flunq.dsl.walker import Site

DIRECTIVES = ("continue", "exit", "end")


def check_flow(sites: Iterable[Site], problems: Problems) -> None:
    """Check every task list of the workflow (and each ``use.functions`` entry)."""
    for site in sites:
        value = site.value
        if isinstance(value, list) and value and all(isinstance(i, m.TaskItem) for i in value):
            _check_list(value, problems)
        elif site.holds(m.Use, "functions") and isinstance(value, dict):
            # A function is one task run on its own: its `then` has no siblings to name.
            for item in value.values():
                if isinstance(item, m.TaskItem):
                    _check_list([item], problems, siblings=False)


def _check_list(items: list[m.TaskItem], problems: Problems, siblings: bool = True) -> None:
    names: dict[str, str] = {}
    for item in items:
        if siblings and item.name in DIRECTIVES:
            problems.add(
                f"a task cannot be named '{item.name}': `then: {item.name}` is a flow directive "
                "and would never reach it",
                item.ref,
            )
        first = names.setdefault(item.name, item.ref)
        if first != item.ref:
            problems.add(
                f"duplicate task name '{item.name}' in this task list (first at {first})", item.ref
            )
    targets = list(names) if siblings else []
    for item in items:
        task = item.task
        if isinstance(task, m.SwitchTask):
            _check_switch(item.ref, task, targets, problems)
        if task.then is not None:
            _check_target(task.then, f"{item.ref}/then", targets, problems)


def _check_target(target: str, pointer: str, names: list[str], problems: Problems) -> None:
    if target in DIRECTIVES or target in names:
        return
    if not names:
        problems.add(
            f"then target '{target}' cannot be used here: a function has no sibling tasks "
            "(use continue, exit or end)",
            pointer,
        )
        return
    message = f"then target '{target}' does not exist in this task list ({listing(names, 'tasks')})"
    close = difflib.get_close_matches(target, names, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    problems.add(message, pointer)


def _check_switch(ref: str, task: m.SwitchTask, names: list[str], problems: Problems) -> None:
    default: str | None = None
    seen: set[str] = set()
    for index, item in enumerate(task.switch):
        here = f"{ref}/switch/{index}"
        if len(item) != 1:
            problems.add(
                f"each switch item must be a mapping with exactly one case (name: {{when, then}}), "
                f"not {len(item)} keys",
                here,
            )
        for name, case in item.items():
            pointer = f"{here}/{escape(name)}"
            if name in seen:
                problems.add(f"duplicate switch case name '{name}'", pointer)
            seen.add(name)
            if case.when is None:
                if default is not None:
                    problems.add(
                        f"switch has more than one default case (a case without 'when'): "
                        f"'{default}' and '{name}'",
                        pointer,
                    )
                default = default or name
            _check_target(case.then, f"{pointer}/then", names, problems)
