"""Audit events in SQLite: append and read only (no update path exists; a trigger refuses one)."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.persistence.sqlite_db import Database

__all__ = ["SqliteAuditMixin", "insert_audit"]


class SqliteAuditMixin:
    db: Database

    async def append_audit(self, event: AuditEvent) -> int:
        async with self.db.write() as conn:
            return await insert_audit(conn, event)

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
        where, args = ["tenant = ?"], [tenant]
        if product_id is not None:
            where.append("product_id = ?")
            args.append(product_id)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if since_iso is not None:
            where.append("at >= ?")
            args.append(since_iso)
        if until_iso is not None:
            where.append("at < ?")
            args.append(until_iso)
        if after is not None:
            where.append("seq > ?")
            args.append(after)  # type: ignore[arg-type]
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT seq, id, at, tenant, kind, actor, product_id, ord_id, before_revision, after_revision,"
                    f" trace_id, detail FROM audit_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                    (*args, limit + 1),
                )
            ).fetchall()
        more = len(rows) > limit
        events = [_event(r) for r in rows[:limit]]
        return events, (events[-1].seq if more and events else None)

    async def prune_audit(self, before_iso: str) -> int:
        async with self.db.write() as conn:
            cur = await conn.execute("DELETE FROM audit_events WHERE at < ?", (before_iso,))
            return cur.rowcount or 0


async def insert_audit(conn: aiosqlite.Connection, event: AuditEvent) -> int:
    """Insert one event on a connection inside a write unit of work (so a product change and
    its audit event commit together)."""
    cur = await conn.execute(
        "INSERT INTO audit_events (id, at, tenant, kind, actor, product_id, ord_id, before_revision,"
        " after_revision, trace_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            event.at.isoformat(),
            event.tenant,
            event.kind.value,
            event.actor,
            event.product_id,
            event.ord_id,
            event.before_revision,
            event.after_revision,
            event.trace_id,
            json.dumps(event.detail, default=str, ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid or 0)


def _event(row: Any) -> AuditEvent:
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
