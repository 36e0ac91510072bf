"""Audit events (:class:`~dataproduct_mcp.persistence.base.AuditStore`): append and read only.

No update path exists here, and each backend's migration adds a trigger that refuses one. Events
are written either alone or inside the unit of work of the product change they record
(:func:`insert_audit`), so a change and its event commit together.
"""

from __future__ import annotations

import json
from typing import Any

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.persistence.dialects.base import Conn, Dialect, Row

__all__ = ["AuditMixin", "insert_audit"]


async def insert_audit(db: Dialect, conn: Conn, event: AuditEvent) -> int:
    """Insert one event on ``conn`` (inside the caller's unit of work); its position."""
    seq = await conn.fetchval(
        "INSERT INTO audit_events (id, at, tenant, kind, actor, product_id, ord_id, before_revision,"
        " after_revision, trace_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        event.id,
        db.iso_to_db(event.at),
        event.tenant,
        event.kind.value,
        event.actor,
        event.product_id,
        event.ord_id,
        event.before_revision,
        event.after_revision,
        event.trace_id,
        json.dumps(event.detail, default=str, ensure_ascii=False),
    )
    return int(seq or 0)


def _event(row: Row) -> AuditEvent:
    return AuditEvent(
        seq=row[0],
        id=row[1],
        at=row[2],
        tenant=row[3],
        kind=row[4],
        actor=row[5],
        product_id=row[6],
        ord_id=row[7],
        before_revision=row[8],
        after_revision=row[9],
        trace_id=row[10],
        detail=json.loads(row[11]),
    )


class AuditMixin:
    db: Dialect

    async def append_audit(self, event: AuditEvent) -> int:
        async with self.db.atomic() as conn:
            return await insert_audit(self.db, conn, event)

    async def list_audit(
        self,
        tenant: str,
        *,
        product_id: str | None = None,
        kinds: tuple[str, ...] = (),
        since_iso: str | None = None,
        until_iso: str | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> tuple[list[AuditEvent], int | None]:
        where: list[str] = ["tenant = ?"]
        args: list[Any] = [tenant]
        if product_id is not None:
            where.append("product_id = ?")
            args.append(product_id)
        if kinds:
            of_kinds, kind_args = self.db.any_of("kind", kinds)
            where.append(of_kinds)
            args.extend(kind_args)
        if since_iso is not None:
            where.append("at >= ?")
            args.append(self.db.iso_to_db(since_iso))
        if until_iso is not None:
            where.append("at < ?")
            args.append(self.db.iso_to_db(until_iso))
        if after is not None:
            where.append("seq > ?")
            args.append(after)
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT seq, id, at, tenant, kind, actor, product_id, ord_id, before_revision, after_revision,"
                f" trace_id, detail FROM audit_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                *args,
                limit + 1,
            )
        more = len(rows) > limit
        events = [_event(r) for r in rows[:limit]]
        return events, (events[-1].seq if more and events else None)

    async def prune_audit(self, before_iso: str) -> int:
        async with self.db.writing() as conn:
            return await conn.execute("DELETE FROM audit_events WHERE at < ?", self.db.iso_to_db(before_iso))
