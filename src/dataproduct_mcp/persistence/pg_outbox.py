"""The PostgreSQL ORD publication outbox (:class:`~dataproduct_mcp.persistence.base.OutboxStore`), a
mixin of PgStore.

``enqueue_publications`` writes the outbox rows and the ``publish-ord`` task that delivers them in
one transaction. Where SQLite serialises these units of work with its single writer, replicas here
serialise them per tenant with a transaction-scoped advisory lock (keyed by schema and tenant), so
two replicas publishing the same revision at once create one row and one task. Adopting orphaned
rows takes one lock for the whole schema: one replica adopts, the others then find nothing.
Worker-side updates only touch pending rows, so ``outbox_finish`` changes a row once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from dataproduct_mcp.domain.publication import EnqueueResult, OutboxRow, OutboxStatus
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.persistence.pg_db import PgDatabase, rowcount
from dataproduct_mcp.persistence.pg_tasks import insert_task
from dataproduct_mcp.persistence.rows import now_or

__all__ = ["PgOutboxMixin"]

_COLUMNS = (
    "tenant, product_id, revision, idempotency_key, status, attempts, last_error, task_id, created_at,"
    " updated_at, delivered_at"
)
_ACTIVE = "('queued', 'running')"
MAX_ERROR_CHARS = 1000
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))"


def _row(r: asyncpg.Record) -> OutboxRow:
    return OutboxRow(
        tenant=r["tenant"],
        product_id=r["product_id"],
        revision=int(r["revision"]),
        idempotency_key=r["idempotency_key"],
        status=OutboxStatus(r["status"]),
        attempts=int(r["attempts"]),
        last_error=r["last_error"],
        task_id=r["task_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        delivered_at=r["delivered_at"],
    )


class PgOutboxMixin:
    db: PgDatabase

    async def enqueue_publications(
        self,
        tenant: str,
        items: Sequence[tuple[str, int, str]],
        task: Task,
        *,
        retry_rejected: bool = False,
        now: datetime | None = None,
    ) -> EnqueueResult:
        at = now_or(now)
        result = EnqueueResult(task_created=False, task_id=None)
        assigned: list[str] = []
        active_task: str | None = None
        cols = ", ".join("o." + c.strip() for c in _COLUMNS.split(","))
        async with self.db.transaction() as conn:
            await conn.execute(_LOCK, f":outbox:{tenant}")
            for product_id, revision, key in items:
                found = await conn.fetchrow(
                    f"SELECT o.seq, {cols}, t.status AS task_status FROM ord_outbox o"
                    " LEFT JOIN tasks t ON t.id = o.task_id WHERE o.idempotency_key = $1 AND o.tenant = $2",
                    key,
                    tenant,
                )
                if found is None:
                    await conn.execute(
                        "INSERT INTO ord_outbox (tenant, product_id, revision, idempotency_key, status, task_id,"
                        " created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6)",
                        tenant,
                        product_id,
                        revision,
                        key,
                        task.id,
                        at,
                    )
                    assigned.append(key)
                    continue
                row = _row(found)
                if row.status is OutboxStatus.delivered:
                    result.delivered.append(row)
                elif row.status is OutboxStatus.rejected and not retry_rejected:
                    result.rejected.append(row)
                elif row.status is OutboxStatus.pending and found["task_status"] in ("queued", "running"):
                    result.queued.append(row)  # already on its way: join that task
                    active_task = active_task or row.task_id
                else:  # rejected and asked again, or pending under a finished task: the new task takes it
                    await conn.execute(
                        "UPDATE ord_outbox SET status = 'pending', task_id = $1, updated_at = $2 WHERE seq = $3",
                        task.id,
                        at,
                        found["seq"],
                    )
                    assigned.append(key)
            if assigned:
                await insert_task(conn, task)
                rows = await conn.fetch(
                    f"SELECT {_COLUMNS} FROM ord_outbox WHERE idempotency_key = ANY($1::text[]) ORDER BY seq",
                    assigned,
                )
                result.queued.extend(_row(r) for r in rows)
                result.task_created, result.task_id = True, task.id
            else:
                result.task_id = active_task
        return result

    async def outbox_for_task(self, task_id: str) -> list[OutboxRow]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM ord_outbox WHERE task_id = $1 AND status = 'pending' ORDER BY seq", task_id
            )
        return [_row(r) for r in rows]

    async def outbox_attempt(self, key: str, *, now: datetime | None = None) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET attempts = attempts + 1, updated_at = $1 WHERE idempotency_key = $2",
                now_or(now),
                key,
            )

    async def outbox_error(self, key: str, error: str, *, now: datetime | None = None) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET last_error = $1, updated_at = $2 WHERE idempotency_key = $3"
                " AND status = 'pending'",
                error[:MAX_ERROR_CHARS],
                now_or(now),
                key,
            )

    async def outbox_finish(
        self, key: str, status: OutboxStatus, *, error: str | None = None, now: datetime | None = None
    ) -> bool:
        if status is OutboxStatus.pending:
            raise ValueError("pending is not a final outbox status")
        at = now_or(now)
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE ord_outbox SET status = $1, last_error = COALESCE($2, last_error), delivered_at = $3,"
                " updated_at = $4 WHERE idempotency_key = $5 AND status = 'pending'",
                status.value,
                None if error is None else error[:MAX_ERROR_CHARS],
                at if status is OutboxStatus.delivered else None,
                at,
                key,
            )
        return rowcount(tag) == 1

    async def adopt_orphaned_publications(
        self, make_task: Callable[[str], Task], *, now: datetime | None = None
    ) -> list[Task]:
        at = now_or(now)
        created: list[Task] = []
        orphaned = (
            "o.status = 'pending' AND (t.id IS NULL OR t.status NOT IN " + _ACTIVE + ")"
        )  # pending under a finished or vanished task
        async with self.db.transaction() as conn:
            await conn.execute(_LOCK, ":outbox-adopt")
            tenants = await conn.fetch(
                f"SELECT DISTINCT o.tenant FROM ord_outbox o LEFT JOIN tasks t ON t.id = o.task_id WHERE {orphaned}"
            )
            for (tenant,) in tenants:
                # The tenant's enqueue lock too: an enqueue in flight must not race the adoption.
                await conn.execute(_LOCK, f":outbox:{tenant}")
                task = make_task(tenant)
                await insert_task(conn, task)
                await conn.execute(
                    "UPDATE ord_outbox SET task_id = $1, updated_at = $2 WHERE seq IN (SELECT o.seq FROM ord_outbox o"
                    f" LEFT JOIN tasks t ON t.id = o.task_id WHERE o.tenant = $3 AND {orphaned}"
                    " AND o.task_id IS DISTINCT FROM $1)",
                    task.id,
                    at,
                    tenant,
                )
                created.append(task)
        return created

    async def list_outbox(
        self, tenant: str, *, product_id: str | None = None, status: OutboxStatus | None = None, limit: int = 1000
    ) -> list[OutboxRow]:
        where, args = ["tenant = $1"], [tenant]
        if product_id is not None:
            args.append(product_id)
            where.append(f"product_id = ${len(args)}")
        if status is not None:
            args.append(status.value)
            where.append(f"status = ${len(args)}")
        args.append(limit)  # type: ignore[arg-type]
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM ord_outbox WHERE {' AND '.join(where)} ORDER BY seq LIMIT ${len(args)}", *args
            )
        return [_row(r) for r in rows]

    async def count_outbox(self, tenant: str | None = None) -> dict[str, int]:
        async with self.db.connection() as conn:
            if tenant is None:
                rows = await conn.fetch("SELECT status, COUNT(*) FROM ord_outbox GROUP BY status")
            else:
                rows = await conn.fetch(
                    "SELECT status, COUNT(*) FROM ord_outbox WHERE tenant = $1 GROUP BY status", tenant
                )
        return {r[0]: int(r[1]) for r in rows}

    async def product_fingerprint(self, tenant: str) -> tuple[Any, ...]:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT COUNT(*), MAX(seq), MAX(updated_at), COALESCE(SUM(revision), 0)"
                " FROM products WHERE tenant = $1",
                tenant,
            )
        return tuple(row) if row else ()
