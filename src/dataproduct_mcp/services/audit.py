"""The audit trail: build events, store them (append-only), mirror them to the log.

Product changes write their event in the same transaction as the change (the store takes the
event); other events (authentication failures, cross-tenant misses, configuration, breaker
transitions) are appended on their own. Every event is also one log line with ``"audit": true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dataproduct_mcp.context import current_actor, current_trace_id
from dataproduct_mcp.domain.audit import AuditEvent, AuditKind
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import AuditStore
from dataproduct_mcp.services.paging import CursorCodec, CursorKey

__all__ = ["SYSTEM_TENANT", "AuditLog"]

SYSTEM_TENANT = "_system"  # deployment-level events (configuration, failed authentication) belong to no tenant

log = get_logger("dataproduct_mcp.audit")


class AuditLog:
    def __init__(
        self,
        store: AuditStore,
        *,
        cursor_secret: bytes | CursorKey,
        retention_days: float = 365,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.cursors = CursorCodec(cursor_secret, purpose=b"audit")
        self.retention_days = retention_days
        self.clock = clock
        self._pending: list[AuditEvent] = []  # events recorded from sync code, stored by flush()

    def event(self, kind: AuditKind, tenant: str, **fields: Any) -> AuditEvent:
        return AuditEvent(
            id=str(uuid.uuid4()),
            at=self.clock(),
            tenant=tenant,
            kind=kind,
            actor=fields.pop("actor", None) or current_actor() or "local",
            trace_id=current_trace_id(),
            **fields,
        )

    def mirror(self, event: AuditEvent) -> None:
        """The log line of an event (after it is stored)."""
        log.info(
            "audit %s tenant=%s actor=%s product=%s",
            event.kind.value,
            event.tenant,
            event.actor,
            event.product_id or "-",
            extra={"audit": True, "event": event.model_dump(mode="json", exclude={"seq"})},
        )

    async def record(self, kind: AuditKind, tenant: str, **fields: Any) -> AuditEvent:
        """Append an event that is not part of another write."""
        event = self.event(kind, tenant, **fields)
        try:
            await self.store.append_audit(event)
        except Exception:  # the trail must not take the server down; the log line still carries it
            log.exception("audit event could not be stored", extra={"audit": True})
        self.mirror(event)
        return event

    def record_soon(self, kind: AuditKind, tenant: str, **fields: Any) -> AuditEvent:
        """For sync callers (e.g. breaker transitions): log now, store on the next :meth:`flush`."""
        event = self.event(kind, tenant, **fields)
        self._pending.append(event)
        self.mirror(event)
        return event

    async def flush(self) -> int:
        """Store the events :meth:`record_soon` queued (called by the Application's flusher and at close)."""
        pending, self._pending = self._pending, []
        for i, event in enumerate(pending):
            try:
                await self.store.append_audit(event)
            except Exception:
                self._pending[:0] = pending[i:]  # keep the rest for the next flush
                log.exception("audit events could not be stored; will retry", extra={"audit": True})
                return i
        return len(pending)

    async def run_flusher(self, *, interval: float = 1.0, task_status: Any = None) -> None:
        """Background loop (tracked in the Application's task group) that stores queued events."""
        import anyio

        with anyio.CancelScope() as scope:
            self._flusher = scope
            if task_status is not None:
                task_status.started()
            while True:
                await anyio.sleep(interval)
                if self._pending:
                    await self.flush()

    def stop(self) -> None:
        """End the flusher loop (the Application flushes what is left before closing the store)."""
        scope = getattr(self, "_flusher", None)
        if scope is not None:
            scope.cancel()

    async def list(
        self,
        tenant: str,
        *,
        product_id: str | None = None,
        kinds: list[AuditKind] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[AuditEvent], str | None]:
        if not 1 <= limit <= 100:
            raise InvalidArgument("limit must be between 1 and 100", field="limit")
        if since is not None and until is not None and since >= until:
            raise InvalidArgument("since must be before until", field="since")
        key = {"p": product_id, "k": sorted(k.value for k in kinds or []), "s": since, "u": until}
        after = self.cursors.decode(cursor, key) if cursor else None
        events, next_after = await self.store.list_audit(
            tenant,
            product_id=product_id,
            kinds=tuple(k.value for k in kinds or []),
            since_iso=_iso(since),
            until_iso=_iso(until),
            limit=limit,
            after=after,
        )
        return events, (self.cursors.encode(next_after, key) if next_after is not None else None)

    async def prune(self) -> int:
        """Delete events older than the retention (scheduled maintenance)."""
        before = self.clock() - timedelta(days=self.retention_days)
        removed = await self.store.prune_audit(before.isoformat())
        if removed:
            log.info("pruned %d audit events older than %s", removed, before.isoformat())
        return removed


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()
