"""Builders of the spec's lifecycle CloudEvents (DSL digest §15).

The interpreter only says what happened and when; the runtime gives each event its id and
source when it journals it.
"""

from __future__ import annotations

from typing import Any

from flunq.interpreter.protocol import LifecycleEvent

PREFIX = "io.serverlessworkflow."


def workflow_event(kind: str, at: str, name: str, **data: Any) -> LifecycleEvent:
    """``kind`` is ``started``, ``completed``, ``faulted``, ``status-changed``..."""
    stamp = {
        "started": "startedAt",
        "completed": "completedAt",
        "faulted": "faultedAt",
        "cancelled": "cancelledAt",
        "suspended": "suspendedAt",
        "resumed": "resumedAt",
        "status-changed": "updatedAt",
        "correlation-started": "startedAt",
        "correlation-completed": "completedAt",
    }[kind]
    body: dict[str, Any] = {"name": name, stamp: at}
    body.update((k, v) for k, v in data.items() if v is not None)
    return LifecycleEvent(type=f"{PREFIX}workflow.{kind}.v1", time=at, data=body)


def task_event(kind: str, at: str, workflow: str, task: str, **data: Any) -> LifecycleEvent:
    """``kind`` is ``created``, ``started``, ``completed``, ``faulted``, ``retried``..."""
    stamp = {
        "created": "createdAt",
        "started": "startedAt",
        "completed": "completedAt",
        "faulted": "faultedAt",
        "cancelled": "cancelledAt",
        "suspended": "suspendedAt",
        "resumed": "resumedAt",
        "retried": "retriedAt",
        "status-changed": "updatedAt",
    }[kind]
    body: dict[str, Any] = {"workflow": workflow, "task": task, stamp: at}
    body.update((k, v) for k, v in data.items() if v is not None)
    return LifecycleEvent(type=f"{PREFIX}task.{kind}.v1", time=at, data=body)
