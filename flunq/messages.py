"""What roles send each other on the bus, and the topic names.

- ``work`` (read by workers): a fact for an execution, or a bare wake-up to apply the
  journal entries its snapshot has not seen yet;
- ``effects`` (read by executors): a ``Perform`` command to carry out;
- ``events`` (read by the event router): CloudEvents emitted by workflows, to hand to the
  executions listening for them.

Bodies are msgpack. A body that cannot be decoded is dead-lettered by its reader.
"""

from __future__ import annotations

from typing import Any

import msgspec

from flunq.interpreter.protocol import AnyFact, Perform

WORK = "work"
EFFECTS = "effects"
EVENTS = "events"


class WorkItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="work"):
    tenant: str
    execution_id: str
    fact: AnyFact | None = None


class EffectItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="effect"):
    tenant: str
    execution_id: str
    command: Perform


class EventItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="event"):
    tenant: str
    event: dict[str, Any]
    source_execution: str | None = None


_encoder = msgspec.msgpack.Encoder()
_work = msgspec.msgpack.Decoder(WorkItem)
_effect = msgspec.msgpack.Decoder(EffectItem)
_event = msgspec.msgpack.Decoder(EventItem)


def encode(item: WorkItem | EffectItem | EventItem) -> bytes:
    return _encoder.encode(item)


def decode_work(body: bytes) -> WorkItem:
    return _work.decode(body)


def decode_effect(body: bytes) -> EffectItem:
    return _effect.decode(body)


def decode_event(body: bytes) -> EventItem:
    return _event.decode(body)


def changes_channel(tenant: str, execution_id: str) -> str:
    """Broadcast channel on which an execution's status changes are announced."""
    return f"execution:{tenant}:{execution_id}"
