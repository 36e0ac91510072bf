"""The ORD publication outbox (:class:`~dataproduct_mcp.persistence.base.OutboxStore`), once for both backends.

``enqueue_publications`` writes the outbox rows and the ``publish-ord`` task that delivers them in
one unit of work, so a crash leaves either both or neither. Units of work of one tenant take turns
(the dialect's ``lock``: SQLite's single writer, a PostgreSQL advisory lock keyed by schema and
tenant), so two replicas publishing the same revision at once create one row and one task. A
pending row whose task finished (or vanished) without delivering it is adopted by a new task
(``adopt_orphaned_publications``, under one lock for the whole schema: one replica adopts, the
others then find nothing), so nothing queued is lost. Worker-side updates only touch pending rows,
so ``outbox_finish`` changes a row once: a revision is delivered exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dataproduct_mcp.domain.publication import EnqueueResult, OutboxRow, OutboxStatus
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.persistence.dialects.base import Dialect, Row
from dataproduct_mcp.persistence.rows import now_or
from dataproduct_mcp.persistence.tasks import insert_task

__all__ = ["MAX_ERROR_CHARS", "OutboxMixin"]

_COLUMNS = (
    "tenant, product_id, revision, idempotency_key, status, attempts, last_error, task_id, created_at,"
    " updated_at, delivered_at"
)
_PREFIXED = ", ".join("o." + c.strip() for c in _COLUMNS.split(","))
# Pending under a finished or vanished task (o: the outbox row, t: its task, LEFT JOINed).
_ORPHANED = "o.status = 'pending' AND (t.id IS NULL OR t.status NOT IN ('queued', 'running'))"
MAX_ERROR_CHARS = 1000


class OutboxMixin:
    db: Dialect

    def _outbox_row(self, r: Row) -> OutboxRow:
        parse = self.db.from_db
        return OutboxRow(
            tenant=r["tenant"],
            product_id=r["product_id"],
            revision=int(r["revision"]),
            idempotency_key=r["idempotency_key"],
            status=OutboxStatus(r["status"]),
            attempts=int(r["attempts"]),
            last_error=r["last_error"],
            task_id=r["task_id"],
            created_at=parse(r["created_at"]),  # type: ignore[arg-type]  # NOT NULL in the table
            updated_at=parse(r["updated_at"]),  # type: ignore[arg-type]
            delivered_at=parse(r["delivered_at"]),
        )

    async def enqueue_publications(
        self,
        tenant: str,
        items: Sequence[tuple[str, int, str]],
        task: Task,
        *,
        retry_rejected: bool = False,
        now: datetime | None = None,
    ) -> EnqueueResult:
        stamp = self.db.to_db(now_or(now))
        result = EnqueueResult(task_created=False, task_id=None)
        assigned: list[str] = []
        active_task: str | None = None
        async with self.db.atomic() as conn:
            await self.db.lock(conn, f":outbox:{tenant}")
            for product_id, revision, key in items:
                found = await conn.fetchone(
                    f"SELECT o.seq, {_PREFIXED}, t.status AS task_status FROM ord_outbox o"
                    " LEFT JOIN tasks t ON t.id = o.task_id WHERE o.idempotency_key = ? AND o.tenant = ?",
                    key,
                    tenant,
                )
                if found is None:
                    await conn.execute(
                        "INSERT INTO ord_outbox (tenant, product_id, revision, idempotency_key, status, task_id,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                        tenant,
                        product_id,
                        revision,
                        key,
                        task.id,
                        stamp,
                        stamp,
                    )
                    assigned.append(key)
                    continue
                row = self._outbox_row(found)
                if row.status is OutboxStatus.delivered:
                    result.delivered.append(row)
                elif row.status is OutboxStatus.rejected and not retry_rejected:
                    result.rejected.append(row)
                elif row.status is OutboxStatus.pending and found["task_status"] in ("queued", "running"):
                    result.queued.append(row)  # already on its way: join that task
                    active_task = active_task or row.task_id
                else:  # rejected and asked again, or pending under a finished task: the new task takes it
                    await conn.execute(
                        "UPDATE ord_outbox SET status = 'pending', task_id = ?, updated_at = ? WHERE seq = ?",
                        task.id,
                        stamp,
                        found["seq"],
                    )
                    assigned.append(key)
            if assigned:
                await insert_task(self.db, conn, task)
                of_keys, key_args = self.db.any_of("idempotency_key", assigned)
                rows = await conn.fetchall(f"SELECT {_COLUMNS} FROM ord_outbox WHERE {of_keys} ORDER BY seq", *key_args)
                result.queued.extend(self._outbox_row(r) for r in rows)
                result.task_created, result.task_id = True, task.id
            else:
                result.task_id = active_task
        return result

    async def outbox_for_task(self, task_id: str) -> list[OutboxRow]:
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_COLUMNS} FROM ord_outbox WHERE task_id = ? AND status = 'pending' ORDER BY seq", task_id
            )
        return [self._outbox_row(r) for r in rows]

    async def outbox_attempt(self, key: str, *, now: datetime | None = None) -> None:
        async with self.db.writing() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET attempts = attempts + 1, updated_at = ? WHERE idempotency_key = ?",
                self.db.to_db(now_or(now)),
                key,
            )

    async def outbox_error(self, key: str, error: str, *, now: datetime | None = None) -> None:
        async with self.db.writing() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET last_error = ?, updated_at = ? WHERE idempotency_key = ? AND status = 'pending'",
                error[:MAX_ERROR_CHARS],
                self.db.to_db(now_or(now)),
                key,
            )

    async def outbox_finish(
        self, key: str, status: OutboxStatus, *, error: str | None = None, now: datetime | None = None
    ) -> bool:
        if status is OutboxStatus.pending:
            raise ValueError("pending is not a final outbox status")
        stamp = self.db.to_db(now_or(now))
        async with self.db.writing() as conn:
            changed = await conn.execute(
                "UPDATE ord_outbox SET status = ?, last_error = COALESCE(?, last_error), delivered_at = ?,"
                " updated_at = ? WHERE idempotency_key = ? AND status = 'pending'",
                status.value,
                None if error is None else error[:MAX_ERROR_CHARS],
                stamp if status is OutboxStatus.delivered else None,
                stamp,
                key,
            )
        return changed == 1

    async def adopt_orphaned_publications(
        self, make_task: Callable[[str], Task], *, now: datetime | None = None
    ) -> list[Task]:
        stamp = self.db.to_db(now_or(now))
        created: list[Task] = []
        async with self.db.atomic() as conn:
            await self.db.lock(conn, ":outbox-adopt")
            tenants = await conn.fetchall(
                f"SELECT DISTINCT o.tenant FROM ord_outbox o LEFT JOIN tasks t ON t.id = o.task_id WHERE {_ORPHANED}"
            )
            for (tenant,) in tenants:
                # The tenant's enqueue lock too: an enqueue in flight must not race the adoption.
                await self.db.lock(conn, f":outbox:{tenant}")
                task = make_task(tenant)
                await insert_task(self.db, conn, task)
                await conn.execute(
                    "UPDATE ord_outbox SET task_id = ?, updated_at = ? WHERE seq IN (SELECT o.seq FROM ord_outbox o"
                    f" LEFT JOIN tasks t ON t.id = o.task_id WHERE o.tenant = ? AND {_ORPHANED}"
                    " AND (o.task_id IS NULL OR o.task_id <> ?))",
                    task.id,
                    stamp,
                    tenant,
                    task.id,
                )
                created.append(task)
        return created

    async def list_outbox(
        self, tenant: str, *, product_id: str | None = None, status: OutboxStatus | None = None, limit: int = 1000
    ) -> list[OutboxRow]:
        where: list[str] = ["tenant = ?"]
        args: list[Any] = [tenant]
        if product_id is not None:
            where.append("product_id = ?")
            args.append(product_id)
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_COLUMNS} FROM ord_outbox WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", *args, limit
            )
        return [self._outbox_row(r) for r in rows]

    async def count_outbox(self, tenant: str | None = None) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) FROM ord_outbox"
        args = () if tenant is None else (tenant,)
        if tenant is not None:
            sql += " WHERE tenant = ?"
        async with self.db.reading() as conn:
            rows = await conn.fetchall(sql + " GROUP BY status", *args)
        return {r[0]: int(r[1]) for r in rows}

    async def product_fingerprint(self, tenant: str) -> tuple[Any, ...]:
        async with self.db.reading() as conn:
            row = await conn.fetchone(
                "SELECT COUNT(*), MAX(seq), MAX(updated_at), COALESCE(SUM(revision), 0) FROM products WHERE tenant = ?",
                tenant,
            )
        return tuple(row) if row else ()
