"""The engine's shared services: definitions, starting and steering executions.

The API role and the worker use one :class:`Engine` each (one per process); it owns no
task of its own. Everything it writes goes through the store and the bus, so it works the
same in one process and split across many.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from typing import Any

import msgspec

from flunq.bus.base import Bus
from flunq.dsl import load
from flunq.errors import NotFound
from flunq.interpreter import Definition
from flunq.interpreter.protocol import AnyFact, Started
from flunq.interpreter.times import now_iso
from flunq.messages import WORK, WorkItem, changes_channel, encode
from flunq.store.base import TERMINAL, DefinitionRecord, ExecutionRecord, JournalEntry, Store

_fact_encoder = msgspec.json.Encoder()


def fact_entry(seq: int, fact: AnyFact) -> JournalEntry:
    data = msgspec.to_builtins(fact)
    return JournalEntry(seq=seq, kind="fact", type=data["fact"], at=fact.at, data=data)


class Engine:
    def __init__(self, store: Store, bus: Bus, *, cache_size: int = 256) -> None:
        self.store = store
        self.bus = bus
        self._definitions: OrderedDict[tuple[str, str, str, str], Definition] = OrderedDict()
        self._cache_size = cache_size

    # -- definitions ---------------------------------------------------------------------

    async def register(self, tenant: str, source: str) -> tuple[DefinitionRecord, Definition]:
        """Validate and store a workflow version (``DefinitionError``/``Conflict`` on failure)."""
        loaded = load(source, "request body")
        doc = loaded.workflow.document
        record = DefinitionRecord(
            tenant=tenant, namespace=doc.namespace, name=doc.name, version=doc.version,
            source=source, created_at=now_iso(),
        )
        stored = await self.store.put_definition(record)
        defn = Definition(loaded.workflow, loaded.data)
        self._remember((tenant, doc.namespace, doc.name, doc.version), defn)
        return stored, defn

    async def definition(self, tenant: str, namespace: str, name: str, version: str | None = None) -> Definition:
        if version is not None:
            cached = self._definitions.get((tenant, namespace, name, version))
            if cached is not None:
                self._definitions.move_to_end((tenant, namespace, name, version))
                return cached
        record = await self.store.get_definition(tenant, namespace, name, version)
        key = (tenant, record.namespace, record.name, record.version)
        cached = self._definitions.get(key)
        if cached is None:
            loaded = load(record.source, f"{namespace}/{name}:{record.version}")
            cached = Definition(loaded.workflow, loaded.data)
            self._remember(key, cached)
        return cached

    def _remember(self, key: tuple[str, str, str, str], defn: Definition) -> None:
        self._definitions[key] = defn
        self._definitions.move_to_end(key)
        while len(self._definitions) > self._cache_size:
            self._definitions.popitem(last=False)

    # -- executions ----------------------------------------------------------------------

    async def start(
        self,
        tenant: str,
        namespace: str,
        name: str,
        data: Any = None,
        *,
        version: str | None = None,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Create an execution (durably) and wake a worker for it. ``NotFound`` if no such
        workflow; returns the record and whether it is new (idempotency keys)."""
        defn = await self.definition(tenant, namespace, name, version)
        now = now_iso()
        execution_id = str(uuid.uuid4())
        started = Started(at=now, execution_id=execution_id, input=data, parent=parent[1] if parent else None)
        record = ExecutionRecord(
            tenant=tenant, id=execution_id, namespace=defn.namespace, name=defn.name,
            version=defn.version, status="pending", created_at=now, updated_at=now, seq=1,
            correlation_id=correlation_id,
            parent_id=parent[0] if parent else None, parent_effect=parent[1] if parent else None,
        )
        record, created = await self.store.create_execution(record, fact_entry(1, started), idempotency_key)
        if created:
            await self.bus.publish(WORK, [encode(WorkItem(tenant=tenant, execution_id=record.id))])
        return record, created

    async def send(self, tenant: str, execution_id: str, fact: AnyFact) -> ExecutionRecord:
        """Hand a fact (cancel, suspend, resume...) to the execution's worker."""
        record = await self.store.get_execution(tenant, execution_id)
        await self.bus.publish(WORK, [encode(WorkItem(tenant=tenant, execution_id=execution_id, fact=fact))])
        return record

    async def wait(self, tenant: str, execution_id: str, timeout: float) -> ExecutionRecord:
        """The execution's record once it ends, or as it is when ``timeout`` runs out.

        Listens for change notifications, and also looks at the store every half second,
        since notifications are not durable and may be missed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.bus.subscribe(changes_channel(tenant, execution_id)) as changes:
            notified: asyncio.Future[bytes] = asyncio.ensure_future(anext(changes))
            try:
                while True:
                    record = await self.store.get_execution(tenant, execution_id)
                    left = deadline - loop.time()
                    if record.status in TERMINAL or left <= 0:
                        return record
                    await asyncio.wait({notified}, timeout=min(left, 0.5))
                    if notified.done():
                        if notified.exception() is not None:  # the subscription ended
                            await asyncio.sleep(min(left, 0.5))
                        notified = asyncio.ensure_future(anext(changes))
            finally:
                notified.cancel()


__all__ = ["Engine", "NotFound", "fact_entry"]
