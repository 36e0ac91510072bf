"""Audit events in PostgreSQL: append and read only (no update path exists; a trigger refuses one)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.persistence.pg_db import PgDatabase, parse_iso, rowcount

__all__ = ["PgAuditMixin", "insert_audit"]


class PgAuditMixin:
    db: PgDatabase

    async def append_audit(self, event: AuditEvent) -> int:
        async with self.db.transaction() as conn:
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
        where, args = ["tenant = $1"], [tenant]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if product_id is not None:
            where.append(f"product_id = {arg(product_id)}")
        if kinds:
            where.append(f"kind = ANY({arg(list(kinds))}::text[])")
        if since_iso is not None:
            where.append(f"at >= {arg(parse_iso(since_iso))}")
        if until_iso is not None:
            where.append(f"at < {arg(parse_iso(until_iso))}")
        if after is not None:
            where.append(f"seq > {arg(after)}")
        limit_mark = arg(limit + 1)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT seq, id, at, tenant, kind, actor, product_id, ord_id, before_revision, after_revision,"
                f" trace_id, detail FROM audit_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT {limit_mark}",
                *args,
            )
        more = len(rows) > limit
        events = [_event(r) for r in rows[:limit]]
        return events, (events[-1].seq if more and events else None)

    async def prune_audit(self, before_iso: str) -> int:
        async with self.db.connection() as conn:
            tag = await conn.execute("DELETE FROM audit_events WHERE at < $1", parse_iso(before_iso))
        return rowcount(tag)


async def insert_audit(conn: asyncpg.Connection, event: AuditEvent) -> int:
    """Insert one event on a connection inside a unit of work (so a product change and its audit
    event commit together)."""
    return int(
        await conn.fetchval(
            "INSERT INTO audit_events (id, at, tenant, kind, actor, product_id, ord_id, before_revision,"
            " after_revision, trace_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
            event.id,
            event.at,
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
    )


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
