"""How records look in API answers (camelCase, no internal fields)."""

from __future__ import annotations

from typing import Any

from flunq.store.base import DefinitionRecord, ExecutionRecord


def execution_view(record: ExecutionRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "workflow": {"namespace": record.namespace, "name": record.name, "version": record.version},
        "status": record.status,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    }
    if record.ended_at:
        out["endedAt"] = record.ended_at
    if record.correlation_id:
        out["correlationId"] = record.correlation_id
    if record.parent_id:
        out["parentId"] = record.parent_id
    if record.status == "completed":
        out["output"] = record.output
    if record.error is not None:
        out["error"] = record.error
    return out


def definition_view(record: DefinitionRecord, *, source: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": record.namespace, "name": record.name, "version": record.version,
        "createdAt": record.created_at,
    }
    if source:
        out["source"] = record.source
    return out
