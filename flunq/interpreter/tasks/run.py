"""``run``: a child workflow, or a process (shell, script, container) on the executor.

Processes answer ``{code, stdout, stderr}``; ``return`` picks the output (``stdout``
default, ``stderr``, ``code``, ``all``, ``none`` → null). A non-zero exit code faults the
task with a ``runtime`` error, except with ``return: code`` or ``all`` where the code is
the data. With ``await: false`` the task completes at once with its input.
"""

from __future__ import annotations

from typing import Any

from flunq.dsl import model as m
from flunq.errors import WorkflowError, problem
from flunq.interpreter.machine import Fault, Machine, Ok, Result
from flunq.interpreter.protocol import EffectCompleted, Perform, StartWorkflow
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.tasks.base import Leaf, effect_result


class RunHandler(Leaf):
    def start(self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any]) -> Result | None:
        run: m.RunSpec = item.task.run
        if run.workflow is not None:
            return self._workflow(mc, frame, run, vars)
        kind = run.kind
        spec = item.raw["run"][kind]
        args = mc.value({k: v for k, v in spec.items()}, frame.input, frame, vars)
        args["return"] = run.return_
        if not run.await_:
            mc.commands.append(Perform(effect_id=frame.id, kind=kind, args=args, task=frame.ref))
            return Ok(frame.input)
        mc.perform(frame, kind, args)
        return None

    def _workflow(self, mc: Machine, frame: TaskFrame, run: m.RunSpec, vars: dict[str, Any]) -> Result | None:
        flow = run.workflow
        assert flow is not None
        data = mc.value(flow.input, frame.input, frame, vars) if flow.input is not None else frame.input
        cmd = StartWorkflow(
            effect_id=frame.id, namespace=flow.namespace, name=flow.name, version=flow.version,
            input=data, wait=run.await_,
        )
        if not run.await_:
            mc.commands.append(cmd)
            return Ok(frame.input)
        mc.start_workflow(frame, cmd)
        return None

    def resume(
        self, mc: Machine, frame: TaskFrame, item: m.TaskItem, vars: dict[str, Any], fact: Any
    ) -> Result | None:
        run: m.RunSpec = item.task.run
        if run.workflow is not None or not isinstance(fact, EffectCompleted):
            return effect_result(fact)
        result = fact.result
        if not isinstance(result, dict) or "code" not in result:
            raise WorkflowError.of("runtime", detail=f"unexpected process result {result!r}")
        if run.return_ in ("code", "all"):
            return Ok(result["code"] if run.return_ == "code" else result)
        if result["code"] != 0:
            stderr = str(result.get("stderr") or "")[-2000:]
            return Fault(problem("runtime", title="Process Failed", detail=f"exit code {result['code']}: {stderr}"))
        return Ok(None if run.return_ == "none" else result.get(run.return_))
