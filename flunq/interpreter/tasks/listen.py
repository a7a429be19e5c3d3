"""``listen``: wait for events (``one``, ``any``, ``all``, ``until``), optionally ``foreach``.

The runtime delivers candidate events (``EventReceived``); the task re-checks each against
its filters and correlation and ignores those that do not match. Output: the consumed
events as ``read`` says (``data``, ``envelope``, ``raw``), or with ``foreach`` the list of
per-item outputs. Events that satisfy an ``until`` strategy are not part of the output.

Keeps: ``frame.extra`` = ``{"filters", "roles" ("main"|"until"), "matched", "expect"
(correlation values learnt or expected), "done"}``; ``frame.items`` = consumed events;
``frame.acc`` = foreach outputs; ``frame.pos`` = next consumed event to run foreach on.
"""

from __future__ import annotations

from typing import Any

from flunq import expressions
from flunq.dsl import model as m
from flunq.interpreter.events import correlation_values, filter_matches
from flunq.interpreter.machine import Machine, Ok, Result, truthy
from flunq.interpreter.protocol import EventReceived
from flunq.interpreter.state import ListFrame, TaskFrame
from flunq.interpreter.tasks.base import Leaf


def _filters(strategy: m.EventConsumptionStrategy) -> list[m.EventFilter]:
    if strategy.one is not None:
        return [strategy.one]
    if strategy.all is not None:
        return list(strategy.all)
    return list(strategy.any or [])


def _plain(flt: m.EventFilter | None) -> dict[str, Any]:
    if flt is None:  # `any: []`: every event
        return {"with": {}}
    out: dict[str, Any] = {"with": dict(flt.with_)}
    if flt.correlate:
        out["correlate"] = {k: {"from": c.from_, "expect": c.expect} for k, c in flt.correlate.items()}
    return out


class ListenHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        strategy = item.task.listen.to
        main = [_plain(f) for f in _filters(strategy)] or [_plain(None)]
        until = strategy.until
        extra = [_plain(f) for f in _filters(until)] if isinstance(until, m.EventConsumptionStrategy) else []
        expect: dict[str, Any] = {}
        for flt in main + extra:
            for key, spec in (flt.get("correlate") or {}).items():
                wanted = spec.pop("expect", None)
                if isinstance(wanted, str) and expressions.is_expression(wanted):
                    wanted = mc.field(wanted, frame.input, frame, vars)
                if wanted is not None:
                    expect[key] = wanted
        frame.extra = {
            "filters": main + extra,
            "roles": ["main"] * len(main) + ["until"] * len(extra),
            "matched": [False] * (len(main) + len(extra)),
            "expect": expect,
            "done": False,
        }
        frame.items, frame.acc, frame.pos = [], [], 0
        listened = [{**f, "expect": {k: expect[k] for k in f.get("correlate", {}) if k in expect}} for f in main + extra]
        mc.listen(frame.id, listened)
        frame.effect = frame.id
        return None

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None:
        if not isinstance(fact, EventReceived) or frame.extra["done"]:
            return None
        which = self._match(mc, frame, fact.event)
        if which is None:
            return None
        extra = frame.extra
        task = item.task
        if extra["roles"][which] == "until":
            extra["done"] = True
        else:
            assert frame.items is not None
            frame.items.append(self._read(task.listen.read, fact.event))
            extra["matched"][which] = True
            extra["done"] = self._complete(mc, frame, task, vars)
        if extra["done"]:
            mc.unlisten(frame.id)
            frame.effect = None
        return self._pump(mc, frame, item, vars)

    def _match(self, mc: Machine, frame: TaskFrame, event: dict[str, Any]) -> int | None:
        expect = frame.extra["expect"]
        matched, roles = frame.extra["matched"], frame.extra["roles"]
        only_once = mc.defn.tasks[frame.ref].task.listen.to.all is not None
        for index, flt in enumerate(frame.extra["filters"]):
            if only_once and roles[index] == "main" and matched[index]:
                continue  # `all`: each filter consumes one event
            if not filter_matches(flt, event, mc.defn.language):
                continue
            values = correlation_values(flt, event, mc.defn.language)
            if values is None or any(k in expect and expect[k] != v for k, v in values.items()):
                continue
            for key, value in values.items():
                expect.setdefault(key, value)
            return index
        return None

    @staticmethod
    def _read(mode: str, event: dict[str, Any]) -> Any:
        if mode == "envelope":
            return event
        if mode == "raw" and "data_base64" in event:
            return event["data_base64"]
        return event.get("data")

    def _complete(self, mc: Machine, frame: TaskFrame, task: m.ListenTask, vars: dict[str, Any]) -> bool:
        strategy = task.listen.to
        roles, matched = frame.extra["roles"], frame.extra["matched"]
        if strategy.one is not None:
            return True
        if strategy.all is not None:
            return all(done for done, role in zip(matched, roles, strict=True) if role == "main")
        if isinstance(strategy.until, str):
            return truthy(mc.field(strategy.until, frame.items, frame, vars))
        return strategy.until is None

    def _pump(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        """Run ``foreach`` on consumed events one at a time, in order; finish when done."""
        foreach = item.task.foreach
        items = frame.items or []
        if foreach is not None and foreach.do:
            while not frame.lists and frame.pos < len(items):
                index = frame.pos
                frame.pos += 1
                scoped = {**vars, foreach.item: items[index], foreach.at: index}
                lst = ListFrame(
                    id=f"{frame.id}/foreach/do[{index}]", list_ref=item.ref + "/foreach/do",
                    data=items[index], vars=scoped,
                )
                outcome = mc.start_child(frame, lst)
                if outcome is None:
                    return None
                if not isinstance(outcome, Ok):
                    return outcome
                self._record(mc, frame, foreach, outcome.output, scoped)
        elif frame.extra["done"]:
            return Ok(list(items))
        if frame.extra["done"] and not frame.lists and frame.pos >= len(items):
            return Ok(list(frame.acc or []))
        return None

    def _record(self, mc: Machine, frame: TaskFrame, foreach: m.SubscriptionIterator, output: Any,
                scoped: dict[str, Any]) -> None:
        if foreach.output is not None:
            output = mc.transform(foreach.output.as_, output, frame, scoped)
            if foreach.output.schema is not None:
                mc.defn.validate(foreach.output.schema, output, "foreach output")
        if foreach.export is not None and foreach.export.as_ is not None:
            mc.state.context = mc.transform(foreach.export.as_, output, frame, scoped, output=output)
        assert frame.acc is not None
        frame.acc.append(output)

    def child(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any],
        lst: ListFrame, result: Result,
    ) -> Result | None:
        if not isinstance(result, Ok):
            return result
        assert item.task.foreach is not None
        self._record(mc, frame, item.task.foreach, result.output, lst.vars)
        return self._pump(mc, frame, item, vars)
