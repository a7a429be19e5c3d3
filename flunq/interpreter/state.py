"""The interpreter's state: a tree of active frames, as plain msgspec data.

A :class:`ListFrame` runs a task list (the workflow's ``do``, a ``do`` task's list, one
iteration of a ``for``, one attempt of a ``try``, one ``fork`` branch...). A
:class:`TaskFrame` is one task that has started and not finished; leaf tasks wait on an
effect, timer or listener (``effect``), composite tasks own child lists (``lists``).

Frame ids are deterministic paths and double as effect, timer and listener ids:

- a task in list ``L`` at index ``k`` named ``n`` is ``L/k/n``, or ``L/k/n~v`` on its
  ``v``-th re-entry through a ``then`` loop;
- the list of a ``do`` task ``T`` is ``T/do``; iteration ``i`` of a ``for`` is ``T/do[i]``;
  attempt ``a`` of a ``try`` is ``T/try[a]``, its handler ``T/catch/do[a]``; fork branch
  ``b`` is ``T/fork/branches``-based with the branch's own index ``b``; the ``foreach``
  run for listened event ``i`` is ``T/foreach/do[i]``;
- a task's timeout timer is ``<task id>#timeout``, a retry delay ``<try id>#retry<a>``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from flunq.interpreter.protocol import AnyCommand, AnyFact, Listen


class TaskFrame(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    ref: str  # JSON pointer of the task in the definition
    raw_input: Any = None
    input: Any = None  # transformed input
    started_at: str = ""
    timeout: str | None = None  # id of the armed timeout timer
    effect: str | None = None  # what a leaf waits for (effect, timer or listener id)
    lists: list[ListFrame] = []  # running child lists of a composite task
    # Kind-specific bookkeeping; each task module documents what it keeps where.
    items: list[Any] | None = None
    pos: int = 0
    acc: list[Any] | None = None
    error: dict[str, Any] | None = None
    phase: str = ""
    first_at: str = ""
    extra: dict[str, Any] = {}


class ListFrame(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    list_ref: str  # JSON pointer of the task list in the definition
    index: int = 0
    data: Any = None  # the data flowing to the next task
    only: bool = False  # run just the task at ``index`` (a fork branch)
    vars: dict[str, Any] = {}  # scoped variables ($item, $index, $error...)
    visits: dict[str, int] = {}  # index -> times entered, for unique frame ids
    task: TaskFrame | None = None


class ExecutionState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Everything needed to resume an execution; replaying the journal rebuilds it."""

    id: str
    status: str = "pending"
    input: Any = None  # raw workflow input
    context: Any = None  # $context
    started_at: str = ""
    updated_at: str = ""
    root: ListFrame | None = None
    timeout: str | None = None  # workflow timeout timer id
    output: Any = None
    error: dict[str, Any] | None = None
    parent: str | None = None
    steps: int = 0  # tasks run so far, against the step budget
    inflight: dict[str, AnyCommand] = {}  # effects dispatched and not yet answered
    timers: dict[str, str] = {}  # armed timers: id -> due (ISO 8601)
    listeners: dict[str, Listen] = {}
    deferred: list[AnyFact] = []  # facts that arrived while suspended


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ExecutionState)


def dump_state(state: ExecutionState) -> bytes:
    return _encoder.encode(state)


def load_state(data: bytes) -> ExecutionState:
    return _decoder.decode(data)


def walk_tasks(frame: ListFrame) -> Any:
    """Every active task frame under a list frame, depth first."""
    task = frame.task
    if task is None:
        return
    yield task
    for child in task.lists:
        yield from walk_tasks(child)
