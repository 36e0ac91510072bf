"""The PostgreSQL task queue: :class:`~dataproduct_mcp.persistence.base.TaskStore` as a mixin of PgStore.

Claiming is ``SELECT ... FOR UPDATE SKIP LOCKED`` then ``UPDATE ... RETURNING`` in one
transaction: replicas claiming at the same moment each lock a different row, so a task is taken
by one worker at a time without anyone waiting on another. Every worker-side write is guarded by
``lease_owner``: a worker that lost its lease (it stalled, another replica recovered the task)
changes nothing. Times come from the caller (``now``), as on SQLite, so tests can move the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from dataproduct_mcp.domain.tasks import ClaimedTask, Task, TaskPage, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.pg_db import PgDatabase, rowcount
from dataproduct_mcp.persistence.rows import GAVE_UP, TASK_COLUMNS, dump_json, now_or, task_from_row

__all__ = ["PgTaskStoreMixin", "insert_task"]

_COLUMNS = TASK_COLUMNS


async def insert_task(conn: asyncpg.Connection, task: Task) -> None:
    """INSERT one task on ``conn`` (inside the caller's transaction: the outbox writes its rows and
    their publish task in one unit of work)."""
    await conn.execute(
        "INSERT INTO tasks (id, tenant, kind, params, status, progress, message, attempts, max_attempts,"
        " trace_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        task.id,
        task.tenant,
        task.kind,
        dump_json(task.params),
        task.status.value,
        task.progress,
        task.message,
        task.attempts,
        task.max_attempts,
        task.trace_id,
        task.created_at,
        task.updated_at,
    )


class PgTaskStoreMixin:
    db: PgDatabase

    async def create_task(self, task: Task) -> None:
        async with self.db.transaction() as conn:
            await insert_task(conn, task)

    async def get_task(self, tenant: str, task_id: str) -> Task:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = $1 AND id = $2", tenant, task_id)
        if row is None:
            raise NotFound(f"no task with id {task_id!r}", id=task_id, suggestion="list_tasks shows your tasks.")
        return task_from_row(row)

    async def list_tasks(
        self, tenant: str, *, status: TaskStatus | None, kind: str | None, limit: int, before: int | None
    ) -> TaskPage:
        where, args = ["tenant = $1"], [tenant]
        if status is not None:
            args.append(status.value)
            where.append(f"status = ${len(args)}")
        if kind is not None:
            args.append(kind)
            where.append(f"kind = ${len(args)}")
        base, n_base = " AND ".join(where), len(args)
        page_where, page_args = base, list(args)
        if before is not None:
            page_args.append(before)  # type: ignore[arg-type]
            page_where += f" AND seq < ${len(page_args)}"
        page_args.append(limit + 1)  # type: ignore[arg-type]
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM tasks WHERE {page_where} ORDER BY seq DESC LIMIT ${len(page_args)}",
                *page_args,
            )
            total = await conn.fetchval(f"SELECT COUNT(*) FROM tasks WHERE {base}", *args[:n_base])
        more = len(rows) > limit
        rows = rows[:limit]
        return TaskPage(
            items=[task_from_row(r) for r in rows],
            positions=[int(r["seq"]) for r in rows],
            total=int(total or 0),
            next_after=int(rows[-1]["seq"]) if more else None,
        )

    async def request_cancel(self, tenant: str, task_id: str, *, now: datetime | None = None) -> Task:
        at = now_or(now)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE tasks SET status = 'cancelled', message = 'cancelled before it started', finished_at = $1,"
                " updated_at = $1, cancel_requested = TRUE WHERE tenant = $2 AND id = $3 AND status = 'queued'",
                at,
                tenant,
                task_id,
            )
            await conn.execute(
                "UPDATE tasks SET cancel_requested = TRUE, updated_at = $1"
                " WHERE tenant = $2 AND id = $3 AND status = 'running' AND NOT cancel_requested",
                at,
                tenant,
                task_id,
            )
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = $1 AND id = $2", tenant, task_id)
        if row is None:
            raise NotFound(f"no task with id {task_id!r}", id=task_id, suggestion="list_tasks shows your tasks.")
        return task_from_row(row)

    async def claim_task(
        self, owner: str, lease_seconds: float, kinds: Sequence[str], *, now: datetime | None = None
    ) -> ClaimedTask | None:
        if not kinds:
            return None
        at = now_or(now)
        expires = at + timedelta(seconds=lease_seconds)
        kind_list = list(kinds)
        async with self.db.transaction() as conn:
            # An expired lease first (its worker died), then the oldest due queued task; rows another
            # replica is claiming right now are skipped, not waited for.
            seq = await conn.fetchval(
                "SELECT seq FROM tasks WHERE status = 'running' AND lease_expires_at < $1 AND kind = ANY($2::text[])"
                " ORDER BY lease_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                at,
                kind_list,
            )
            if seq is None:
                seq = await conn.fetchval(
                    "SELECT seq FROM tasks WHERE status = 'queued' AND kind = ANY($2::text[])"
                    " AND (run_after IS NULL OR run_after <= $1) ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED",
                    at,
                    kind_list,
                )
            if seq is None:
                return None
            row = await conn.fetchrow(
                "UPDATE tasks SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1,"
                " run_after = NULL, started_at = COALESCE(started_at, $3), updated_at = $3, message = 'running'"
                f" WHERE seq = $4 RETURNING {_COLUMNS}",
                owner,
                expires,
                at,
                seq,
            )
        return ClaimedTask(task=task_from_row(row), lease_owner=owner, lease_expires_at=expires)

    async def heartbeat(
        self, task_id: str, owner: str, lease_seconds: float, *, now: datetime | None = None
    ) -> bool | None:
        expires = now_or(now) + timedelta(seconds=lease_seconds)
        async with self.db.connection() as conn:
            cancel = await conn.fetchrow(
                "UPDATE tasks SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'"
                " RETURNING cancel_requested",
                expires,
                task_id,
                owner,
            )
        return None if cancel is None else bool(cancel[0])

    async def update_progress(self, task_id: str, owner: str, progress: float, message: str | None) -> bool:
        progress = min(1.0, max(0.0, float(progress)))
        async with self.db.connection() as conn:
            status = await conn.execute(
                "UPDATE tasks SET progress = $1, message = $2, updated_at = $3"
                " WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
                progress,
                message,
                now_or(None),
                task_id,
                owner,
            )
        return rowcount(status) == 1

    async def finish_task(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> bool:
        if status not in (TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled):
            raise ValueError(f"{status} is not a final status")
        progress_sql = ", progress = 1" if status is TaskStatus.succeeded else ""
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE tasks SET status = $1, result = $2, error = $3, finished_at = $4,"
                f" updated_at = $4{progress_sql}, message = COALESCE($5, message),"
                " lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
                status.value,
                dump_json(result),
                dump_json(error),
                now_or(now),
                {TaskStatus.succeeded: "done", TaskStatus.cancelled: "cancelled on request"}.get(status),
                task_id,
                owner,
            )
        return rowcount(tag) == 1

    async def retry_task(
        self, task_id: str, owner: str, error: dict[str, Any], run_after: datetime, *, now: datetime | None = None
    ) -> bool:
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE tasks SET status = 'queued', error = $1, run_after = $2, updated_at = $3,"
                " message = 'retrying after a temporary failure', lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
                dump_json(error),
                run_after,
                now_or(now),
                task_id,
                owner,
            )
        return rowcount(tag) == 1

    async def release_tasks(
        self, owner: str, task_ids: Sequence[str] | None = None, *, now: datetime | None = None
    ) -> int:
        sql = (
            "UPDATE tasks SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
            " attempts = GREATEST(attempts - 1, 0), message = 'released at shutdown; resumes on restart',"
            " updated_at = $1 WHERE lease_owner = $2 AND status = 'running'"
        )
        args: list[Any] = [now_or(now), owner]
        if task_ids is not None:
            if not task_ids:
                return 0
            sql += " AND id = ANY($3::text[])"
            args.append(list(task_ids))
        async with self.db.connection() as conn:
            return rowcount(await conn.execute(sql, *args))

    async def expire_leases(self, owner: str, *, now: datetime | None = None) -> int:
        """End the leases of ``owner`` now (its process is known to be dead)."""
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE tasks SET lease_expires_at = $1 WHERE lease_owner = $2 AND status = 'running'",
                now_or(now) - timedelta(microseconds=1),
                owner,
            )
        return rowcount(tag)

    async def recover_expired(self, *, now: datetime | None = None) -> int:
        at = now_or(now)
        expired = "status = 'running' AND lease_expires_at < $1"
        cleared = "lease_owner = NULL, lease_expires_at = NULL, updated_at = $1"
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE tasks SET status = 'cancelled', message = 'cancelled on request', finished_at = $1, {cleared}"
                f" WHERE {expired} AND cancel_requested",
                at,
            )
            await conn.execute(
                f"UPDATE tasks SET status = 'failed', error = $2, finished_at = $1, {cleared}"
                f" WHERE {expired} AND attempts >= max_attempts",
                at,
                dump_json(GAVE_UP),
            )
            tag = await conn.execute(
                f"UPDATE tasks SET status = 'queued', message = 'resumed after its worker stopped', {cleared}"
                f" WHERE {expired}",
                at,
            )
        return rowcount(tag)

    async def lease_owners(self) -> list[str]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT lease_owner FROM tasks WHERE status = 'running' AND lease_owner IS NOT NULL"
            )
        return [r[0] for r in rows]

    async def prune_tasks(self, finished_before: datetime, *, batch: int = 1000) -> int:
        total = 0
        while True:  # small batches: never hold many row locks for long
            async with self.db.connection() as conn:
                deleted = rowcount(
                    await conn.execute(
                        "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks"
                        " WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2)",
                        finished_before,
                        batch,
                    )
                )
            total += deleted
            if deleted < batch:
                return total

    async def count_tasks(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        async with self.db.connection() as conn:
            if tenant is None:
                rows = await conn.fetch("SELECT kind, status, COUNT(*) FROM tasks GROUP BY kind, status")
            else:
                rows = await conn.fetch(
                    "SELECT kind, status, COUNT(*) FROM tasks WHERE tenant = $1 GROUP BY kind, status", tenant
                )
        out: dict[str, dict[str, int]] = {}
        for kind, status, n in rows:
            out.setdefault(kind, {})[status] = int(n)
        return out
