"""The durable task queue (:class:`~dataproduct_mcp.persistence.base.TaskStore`), once for both backends.

Claiming takes, in one unit of work, a running task whose lease expired (its worker died) or
else the oldest due queued task, through the dialect's ``claim`` hook: SQLite runs it as one
``UPDATE ... WHERE seq = (SELECT ...)`` under its single writer, PostgreSQL selects the row
``FOR UPDATE SKIP LOCKED`` so replicas claiming at once each take a different row without
waiting. Either way two workers never take the same task. Every worker-side write is guarded by
``lease_owner``: a worker that lost its lease (it stalled, another worker recovered the task)
changes nothing. Times come from the caller (``now``) so tests can move the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dataproduct_mcp.domain.tasks import ClaimedTask, Task, TaskPage, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.dialects.base import Conn, Dialect, Row
from dataproduct_mcp.persistence.rows import GAVE_UP, TASK_COLUMNS, dump_json, now_or, task_from_row

__all__ = ["TasksMixin", "insert_task"]

_COLUMNS = TASK_COLUMNS


async def insert_task(db: Dialect, conn: Conn, task: Task) -> None:
    """INSERT one task on ``conn`` (inside the caller's unit of work: the outbox writes its rows and
    their publish task together, a maintenance job its lease and its run)."""
    await conn.execute(
        "INSERT INTO tasks (id, tenant, kind, params, status, progress, message, attempts, max_attempts,"
        " trace_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        db.to_db(task.created_at),
        db.to_db(task.updated_at),
    )


def _not_found(task_id: str) -> NotFound:
    return NotFound(f"no task with id {task_id!r}", id=task_id, suggestion="list_tasks shows your tasks.")


class TasksMixin:
    db: Dialect

    def _task(self, row: Row) -> Task:
        return task_from_row(row, self.db.from_db)

    async def create_task(self, task: Task) -> None:
        async with self.db.atomic() as conn:
            await insert_task(self.db, conn, task)

    async def get_task(self, tenant: str, task_id: str) -> Task:
        async with self.db.reading() as conn:
            row = await conn.fetchone(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = ? AND id = ?", tenant, task_id)
        if row is None:
            raise _not_found(task_id)
        return self._task(row)

    async def list_tasks(
        self, tenant: str, *, status: TaskStatus | None, kind: str | None, limit: int, before: int | None
    ) -> TaskPage:
        where: list[str] = ["tenant = ?"]
        args: list[Any] = [tenant]
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        base = " AND ".join(where)
        page_where, page_args = base, list(args)
        if before is not None:
            page_where += " AND seq < ?"
            page_args.append(before)
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_COLUMNS} FROM tasks WHERE {page_where} ORDER BY seq DESC LIMIT ?", *page_args, limit + 1
            )
            total = await conn.fetchval(f"SELECT COUNT(*) FROM tasks WHERE {base}", *args)
        more = len(rows) > limit
        rows = rows[:limit]
        return TaskPage(
            items=[self._task(r) for r in rows],
            positions=[int(r["seq"]) for r in rows],
            total=int(total or 0),
            next_after=int(rows[-1]["seq"]) if more else None,
        )

    async def request_cancel(self, tenant: str, task_id: str, *, now: datetime | None = None) -> Task:
        stamp = self.db.to_db(now_or(now))
        async with self.db.atomic() as conn:
            await conn.execute(
                "UPDATE tasks SET status = 'cancelled', message = 'cancelled before it started', finished_at = ?,"
                " updated_at = ?, cancel_requested = TRUE WHERE tenant = ? AND id = ? AND status = 'queued'",
                stamp,
                stamp,
                tenant,
                task_id,
            )
            await conn.execute(
                "UPDATE tasks SET cancel_requested = TRUE, updated_at = ?"
                " WHERE tenant = ? AND id = ? AND status = 'running' AND NOT cancel_requested",
                stamp,
                tenant,
                task_id,
            )
            row = await conn.fetchone(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = ? AND id = ?", tenant, task_id)
        if row is None:
            raise _not_found(task_id)
        return self._task(row)

    async def claim_task(
        self, owner: str, lease_seconds: float, kinds: Sequence[str], *, now: datetime | None = None
    ) -> ClaimedTask | None:
        if not kinds:
            return None
        at = now_or(now)
        expires = at + timedelta(seconds=lease_seconds)
        stamp = self.db.to_db(at)
        of_kinds, kind_args = self.db.any_of("kind", kinds)
        candidates = [
            # An expired lease first (its worker died), then the oldest due queued task.
            (
                f"SELECT seq FROM tasks WHERE status = 'running' AND lease_expires_at < ? AND {of_kinds}"
                " ORDER BY lease_expires_at LIMIT 1",
                [stamp, *kind_args],
            ),
            (
                f"SELECT seq FROM tasks WHERE status = 'queued' AND {of_kinds}"
                " AND (run_after IS NULL OR run_after <= ?) ORDER BY seq LIMIT 1",
                [*kind_args, stamp],
            ),
        ]
        assign = (
            "status = 'running', lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1, run_after = NULL,"
            " started_at = COALESCE(started_at, ?), updated_at = ?, message = 'running'"
        )
        async with self.db.atomic() as conn:
            row = await self.db.claim(
                conn, "tasks", candidates, assign, [owner, self.db.to_db(expires), stamp, stamp], _COLUMNS
            )
        if row is None:
            return None
        stored = self.db.from_db(self.db.to_db(expires))  # the lease as the database holds it
        return ClaimedTask(task=self._task(row), lease_owner=owner, lease_expires_at=stored or expires)

    async def heartbeat(
        self, task_id: str, owner: str, lease_seconds: float, *, now: datetime | None = None
    ) -> bool | None:
        expires = now_or(now) + timedelta(seconds=lease_seconds)
        async with self.db.writing() as conn:
            row = await conn.fetchone(
                "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'"
                " RETURNING cancel_requested",
                self.db.to_db(expires),
                task_id,
                owner,
            )
        return None if row is None else bool(row[0])

    async def update_progress(self, task_id: str, owner: str, progress: float, message: str | None) -> bool:
        progress = min(1.0, max(0.0, float(progress)))
        async with self.db.writing() as conn:
            changed = await conn.execute(
                "UPDATE tasks SET progress = ?, message = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                progress,
                message,
                self.db.to_db(now_or(None)),
                task_id,
                owner,
            )
        return changed == 1

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
        stamp = self.db.to_db(now_or(now))
        progress_sql = ", progress = 1" if status is TaskStatus.succeeded else ""
        async with self.db.writing() as conn:
            changed = await conn.execute(
                f"UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, updated_at = ?{progress_sql},"
                " message = COALESCE(?, message), lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                status.value,
                dump_json(result),
                dump_json(error),
                stamp,
                stamp,
                {TaskStatus.succeeded: "done", TaskStatus.cancelled: "cancelled on request"}.get(status),
                task_id,
                owner,
            )
        return changed == 1

    async def retry_task(
        self, task_id: str, owner: str, error: dict[str, Any], run_after: datetime, *, now: datetime | None = None
    ) -> bool:
        async with self.db.writing() as conn:
            changed = await conn.execute(
                "UPDATE tasks SET status = 'queued', error = ?, run_after = ?, updated_at = ?,"
                " message = 'retrying after a temporary failure', lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                dump_json(error),
                self.db.to_db(run_after),
                self.db.to_db(now_or(now)),
                task_id,
                owner,
            )
        return changed == 1

    async def release_tasks(
        self, owner: str, task_ids: Sequence[str] | None = None, *, now: datetime | None = None
    ) -> int:
        sql = (
            "UPDATE tasks SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
            " message = 'released at shutdown; resumes on restart', updated_at = ?"
            " WHERE lease_owner = ? AND status = 'running'"
        )
        args: list[Any] = [self.db.to_db(now_or(now)), owner]
        if task_ids is not None:
            if not task_ids:
                return 0
            of_ids, id_args = self.db.any_of("id", task_ids)
            sql += f" AND {of_ids}"
            args.extend(id_args)
        async with self.db.writing() as conn:
            return await conn.execute(sql, *args)

    async def expire_leases(self, owner: str, *, now: datetime | None = None) -> int:
        """End the leases of ``owner`` now (its process is known to be dead)."""
        async with self.db.writing() as conn:
            return await conn.execute(
                "UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'running'",
                self.db.to_db(now_or(now) - timedelta(microseconds=1)),
                owner,
            )

    async def recover_expired(self, *, now: datetime | None = None) -> int:
        stamp = self.db.to_db(now_or(now))
        expired = "status = 'running' AND lease_expires_at < ?"
        cleared = "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
        async with self.db.atomic() as conn:
            await conn.execute(
                f"UPDATE tasks SET status = 'cancelled', message = 'cancelled on request', finished_at = ?, {cleared}"
                f" WHERE {expired} AND cancel_requested",
                stamp,
                stamp,
                stamp,
            )
            await conn.execute(
                f"UPDATE tasks SET status = 'failed', error = ?, finished_at = ?, {cleared}"
                f" WHERE {expired} AND attempts >= max_attempts",
                dump_json(GAVE_UP),
                stamp,
                stamp,
                stamp,
            )
            return await conn.execute(
                f"UPDATE tasks SET status = 'queued', message = 'resumed after its worker stopped', {cleared}"
                f" WHERE {expired}",
                stamp,
                stamp,
            )

    async def lease_owners(self) -> list[str]:
        async with self.db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT DISTINCT lease_owner FROM tasks WHERE status = 'running' AND lease_owner IS NOT NULL"
            )
        return [r[0] for r in rows]

    async def prune_tasks(self, finished_before: datetime, *, batch: int = 1000) -> int:
        total = 0
        while True:  # small batches: never hold the write lock (or many row locks) for long
            async with self.db.writing() as conn:
                deleted = await conn.execute(
                    "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks"
                    " WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)",
                    self.db.to_db(finished_before),
                    batch,
                )
            total += deleted
            if deleted < batch:
                return total

    async def count_tasks(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        sql = "SELECT kind, status, COUNT(*) FROM tasks"
        args = () if tenant is None else (tenant,)
        if tenant is not None:
            sql += " WHERE tenant = ?"
        async with self.db.reading() as conn:
            rows = await conn.fetchall(sql + " GROUP BY kind, status", *args)
        out: dict[str, dict[str, int]] = {}
        for kind, status, n in rows:
            out.setdefault(kind, {})[status] = int(n)
        return out
