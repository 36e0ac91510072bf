"""The SQLite ORD publication outbox (:class:`~dataproduct_mcp.persistence.base.OutboxStore`), a mixin
of SqliteStore.

``enqueue_publications`` writes the outbox rows and the ``publish-ord`` task that delivers them in
one ``BEGIN IMMEDIATE`` transaction, so a crash leaves either both or neither.  A pending row whose
task finished (or vanished) without delivering it is adopted by a new task
(``adopt_orphaned_publications``), so nothing queued is lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dataproduct_mcp.domain.publication import EnqueueResult, OutboxRow, OutboxStatus
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.persistence.rows import now_or
from dataproduct_mcp.persistence.sqlite_db import Database
from dataproduct_mcp.persistence.sqlite_tasks import _parse_ts, _ts, insert_task

__all__ = ["SqliteOutboxMixin"]

_COLUMNS = (
    "tenant, product_id, revision, idempotency_key, status, attempts, last_error, task_id, created_at,"
    " updated_at, delivered_at"
)
_ACTIVE = "('queued', 'running')"
MAX_ERROR_CHARS = 1000


def _row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        tenant=r["tenant"],
        product_id=r["product_id"],
        revision=int(r["revision"]),
        idempotency_key=r["idempotency_key"],
        status=OutboxStatus(r["status"]),
        attempts=int(r["attempts"]),
        last_error=r["last_error"],
        task_id=r["task_id"],
        created_at=_parse_ts(r["created_at"]),  # type: ignore[arg-type]
        updated_at=_parse_ts(r["updated_at"]),  # type: ignore[arg-type]
        delivered_at=_parse_ts(r["delivered_at"]),
    )


class SqliteOutboxMixin:
    db: Database

    async def enqueue_publications(
        self,
        tenant: str,
        items: Sequence[tuple[str, int, str]],
        task: Task,
        *,
        retry_rejected: bool = False,
        now: datetime | None = None,
    ) -> EnqueueResult:
        stamp = _ts(now_or(now))
        result = EnqueueResult(task_created=False, task_id=None)
        assigned: list[str] = []
        active_task: str | None = None
        async with self.db.write() as conn:
            for product_id, revision, key in items:
                found = await (
                    await conn.execute(
                        f"SELECT o.seq, {', '.join('o.' + c.strip() for c in _COLUMNS.split(','))},"
                        " t.status AS task_status FROM ord_outbox o LEFT JOIN tasks t ON t.id = o.task_id"
                        " WHERE o.idempotency_key = ? AND o.tenant = ?",
                        (key, tenant),
                    )
                ).fetchone()
                if found is None:
                    await conn.execute(
                        "INSERT INTO ord_outbox (tenant, product_id, revision, idempotency_key, status, task_id,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                        (tenant, product_id, revision, key, task.id, stamp, stamp),
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
                        "UPDATE ord_outbox SET status = 'pending', task_id = ?, updated_at = ? WHERE seq = ?",
                        (task.id, stamp, found["seq"]),
                    )
                    assigned.append(key)
            if assigned:
                await insert_task(conn, task)
                marks = ", ".join("?" for _ in assigned)
                rows = await (
                    await conn.execute(
                        f"SELECT {_COLUMNS} FROM ord_outbox WHERE idempotency_key IN ({marks}) ORDER BY seq", assigned
                    )
                ).fetchall()
                result.queued.extend(_row(r) for r in rows)
                result.task_created, result.task_id = True, task.id
            else:
                result.task_id = active_task
        return result

    async def outbox_for_task(self, task_id: str) -> list[OutboxRow]:
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM ord_outbox WHERE task_id = ? AND status = 'pending' ORDER BY seq",
                    (task_id,),
                )
            ).fetchall()
        return [_row(r) for r in rows]

    async def outbox_attempt(self, key: str, *, now: datetime | None = None) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET attempts = attempts + 1, updated_at = ? WHERE idempotency_key = ?",
                (_ts(now_or(now)), key),
            )

    async def outbox_error(self, key: str, error: str, *, now: datetime | None = None) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "UPDATE ord_outbox SET last_error = ?, updated_at = ? WHERE idempotency_key = ? AND status = 'pending'",
                (error[:MAX_ERROR_CHARS], _ts(now_or(now)), key),
            )

    async def outbox_finish(
        self, key: str, status: OutboxStatus, *, error: str | None = None, now: datetime | None = None
    ) -> bool:
        if status is OutboxStatus.pending:
            raise ValueError("pending is not a final outbox status")
        stamp = _ts(now_or(now))
        delivered_at = stamp if status is OutboxStatus.delivered else None
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE ord_outbox SET status = ?, last_error = COALESCE(?, last_error), delivered_at = ?,"
                " updated_at = ? WHERE idempotency_key = ? AND status = 'pending'",
                (status.value, None if error is None else error[:MAX_ERROR_CHARS], delivered_at, stamp, key),
            )
            return cur.rowcount == 1

    async def adopt_orphaned_publications(
        self, make_task: Callable[[str], Task], *, now: datetime | None = None
    ) -> list[Task]:
        stamp = _ts(now_or(now))
        created: list[Task] = []
        async with self.db.write() as conn:
            tenants = await (
                await conn.execute(
                    "SELECT DISTINCT o.tenant FROM ord_outbox o LEFT JOIN tasks t ON t.id = o.task_id"
                    f" WHERE o.status = 'pending' AND (t.id IS NULL OR t.status NOT IN {_ACTIVE})"
                )
            ).fetchall()
            for (tenant,) in tenants:
                task = make_task(tenant)
                await insert_task(conn, task)
                await conn.execute(
                    "UPDATE ord_outbox SET task_id = ?, updated_at = ? WHERE seq IN (SELECT o.seq FROM ord_outbox o"
                    " LEFT JOIN tasks t ON t.id = o.task_id WHERE o.tenant = ? AND o.status = 'pending'"
                    f" AND o.task_id IS NOT ? AND (t.id IS NULL OR t.status NOT IN {_ACTIVE}))",
                    (task.id, stamp, tenant, task.id),
                )
                created.append(task)
        return created

    async def list_outbox(
        self, tenant: str, *, product_id: str | None = None, status: OutboxStatus | None = None, limit: int = 1000
    ) -> list[OutboxRow]:
        where, args = ["tenant = ?"], [tenant]
        if product_id is not None:
            where.append("product_id = ?")
            args.append(product_id)
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM ord_outbox WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                    (*args, limit),
                )
            ).fetchall()
        return [_row(r) for r in rows]

    async def count_outbox(self, tenant: str | None = None) -> dict[str, int]:
        sql, args = "SELECT status, COUNT(*) FROM ord_outbox", ()
        if tenant is not None:
            sql, args = sql + " WHERE tenant = ?", (tenant,)
        async with self.db.read() as conn:
            rows = await (await conn.execute(sql + " GROUP BY status", args)).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    async def product_fingerprint(self, tenant: str) -> tuple[Any, ...]:
        async with self.db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT COUNT(*), MAX(seq), MAX(updated_at), TOTAL(revision) FROM products WHERE tenant = ?",
                    (tenant,),
                )
            ).fetchone()
        return tuple(row) if row else ()
