"""The SQLite task queue: :class:`~dataproduct_mcp.persistence.base.TaskStore` as a mixin of SqliteStore.

Claiming is one ``UPDATE ... WHERE seq = (SELECT ... LIMIT 1) RETURNING`` inside ``BEGIN
IMMEDIATE``: SQLite's write lock makes it exclusive across connections and processes, so two
workers never take the same task. Every worker-side write is guarded by ``lease_owner``: a
worker that lost its lease (it stalled, another worker recovered the task) changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiosqlite

from dataproduct_mcp.domain.tasks import ClaimedTask, Task, TaskPage, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.rows import GAVE_UP, TASK_COLUMNS, dump_json, now_or, task_from_row
from dataproduct_mcp.persistence.sqlite_db import Database

__all__ = ["SqliteTaskStoreMixin", "insert_task"]

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_COLUMNS = TASK_COLUMNS


def _ts(value: datetime) -> str:
    """Fixed-width UTC text, so SQL string comparison is time comparison."""
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def _parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)


async def insert_task(conn: aiosqlite.Connection, task: Task) -> None:
    """INSERT one task on ``conn`` (inside the caller's transaction: the outbox writes its rows and
    their publish task in one unit of work)."""
    await conn.execute(
        "INSERT INTO tasks (id, tenant, kind, params, status, progress, message, attempts, max_attempts,"
        " trace_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
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
            _ts(task.created_at),
            _ts(task.updated_at),
        ),
    )


class SqliteTaskStoreMixin:
    db: Database

    async def create_task(self, task: Task) -> None:
        async with self.db.write() as conn:
            await insert_task(conn, task)

    async def get_task(self, tenant: str, task_id: str) -> Task:
        async with self.db.read() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = ? AND id = ?", (tenant, task_id))
            ).fetchone()
        if row is None:
            raise NotFound(f"no task with id {task_id!r}", id=task_id, suggestion="list_tasks shows your tasks.")
        return _task(row)

    async def list_tasks(
        self, tenant: str, *, status: TaskStatus | None, kind: str | None, limit: int, before: int | None
    ) -> TaskPage:
        where, args = ["tenant = ?"], [tenant]
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
            page_args.append(before)  # type: ignore[arg-type]
        async with self.db.read() as conn:
            rows = list(
                await (
                    await conn.execute(
                        f"SELECT {_COLUMNS} FROM tasks WHERE {page_where} ORDER BY seq DESC LIMIT ?",
                        (*page_args, limit + 1),
                    )
                ).fetchall()
            )
            total = await (await conn.execute(f"SELECT COUNT(*) FROM tasks WHERE {base}", args)).fetchone()
        more = len(rows) > limit
        rows = rows[:limit]
        return TaskPage(
            items=[_task(r) for r in rows],
            positions=[int(r["seq"]) for r in rows],
            total=int(total[0]) if total else 0,
            next_after=int(rows[-1]["seq"]) if more else None,
        )

    async def request_cancel(self, tenant: str, task_id: str, *, now: datetime | None = None) -> Task:
        stamp = _ts(now_or(now))
        async with self.db.write() as conn:
            await conn.execute(
                "UPDATE tasks SET status = 'cancelled', message = 'cancelled before it started', finished_at = ?,"
                " updated_at = ?, cancel_requested = 1 WHERE tenant = ? AND id = ? AND status = 'queued'",
                (stamp, stamp, tenant, task_id),
            )
            await conn.execute(
                "UPDATE tasks SET cancel_requested = 1, updated_at = ?"
                " WHERE tenant = ? AND id = ? AND status = 'running' AND cancel_requested = 0",
                (stamp, tenant, task_id),
            )
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE tenant = ? AND id = ?", (tenant, task_id))
            ).fetchone()
        if row is None:
            raise NotFound(f"no task with id {task_id!r}", id=task_id, suggestion="list_tasks shows your tasks.")
        return _task(row)

    async def claim_task(
        self, owner: str, lease_seconds: float, kinds: Sequence[str], *, now: datetime | None = None
    ) -> ClaimedTask | None:
        if not kinds:
            return None
        at = now_or(now)
        stamp, expires = _ts(at), _ts(at + timedelta(seconds=lease_seconds))
        marks = ", ".join("?" for _ in kinds)
        sql = (
            "UPDATE tasks SET status = 'running', lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1,"
            " run_after = NULL, started_at = COALESCE(started_at, ?), updated_at = ?, message = 'running'"
            " WHERE seq = COALESCE("
            f" (SELECT seq FROM tasks WHERE status = 'running' AND lease_expires_at < ? AND kind IN ({marks})"
            "  ORDER BY lease_expires_at LIMIT 1),"
            f" (SELECT seq FROM tasks WHERE status = 'queued' AND kind IN ({marks})"
            "  AND (run_after IS NULL OR run_after <= ?) ORDER BY seq LIMIT 1))"
            f" RETURNING {_COLUMNS}"
        )
        args = (owner, expires, stamp, stamp, stamp, *kinds, *kinds, stamp)
        async with self.db.write() as conn:
            row = await (await conn.execute(sql, args)).fetchone()
        if row is None:
            return None
        return ClaimedTask(task=_task(row), lease_owner=owner, lease_expires_at=_parse_ts(expires))  # type: ignore[arg-type]

    async def heartbeat(
        self, task_id: str, owner: str, lease_seconds: float, *, now: datetime | None = None
    ) -> bool | None:
        at = now_or(now)
        async with self.db.write() as conn:
            row = await (
                await conn.execute(
                    "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'"
                    " RETURNING cancel_requested",
                    (_ts(at + timedelta(seconds=lease_seconds)), task_id, owner),
                )
            ).fetchone()
        return None if row is None else bool(row[0])

    async def update_progress(self, task_id: str, owner: str, progress: float, message: str | None) -> bool:
        progress = min(1.0, max(0.0, float(progress)))
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE tasks SET progress = ?, message = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                (progress, message, _ts(now_or(None)), task_id, owner),
            )
            return cur.rowcount == 1

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
        stamp = _ts(now_or(now))
        progress_sql = ", progress = 1" if status is TaskStatus.succeeded else ""
        async with self.db.write() as conn:
            cur = await conn.execute(
                f"UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, updated_at = ?{progress_sql},"
                " message = COALESCE(?, message), lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                (
                    status.value,
                    dump_json(result),
                    dump_json(error),
                    stamp,
                    stamp,
                    {TaskStatus.succeeded: "done", TaskStatus.cancelled: "cancelled on request"}.get(status),
                    task_id,
                    owner,
                ),
            )
            return cur.rowcount == 1

    async def retry_task(
        self, task_id: str, owner: str, error: dict[str, Any], run_after: datetime, *, now: datetime | None = None
    ) -> bool:
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE tasks SET status = 'queued', error = ?, run_after = ?, updated_at = ?,"
                " message = 'retrying after a temporary failure', lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                (dump_json(error), _ts(run_after), _ts(now_or(now)), task_id, owner),
            )
            return cur.rowcount == 1

    async def release_tasks(
        self, owner: str, task_ids: Sequence[str] | None = None, *, now: datetime | None = None
    ) -> int:
        sql = (
            "UPDATE tasks SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
            " attempts = MAX(attempts - 1, 0), message = 'released at shutdown; resumes on restart', updated_at = ?"
            " WHERE lease_owner = ? AND status = 'running'"
        )
        args: list[Any] = [_ts(now_or(now)), owner]
        if task_ids is not None:
            if not task_ids:
                return 0
            sql += f" AND id IN ({', '.join('?' for _ in task_ids)})"
            args.extend(task_ids)
        async with self.db.write() as conn:
            cur = await conn.execute(sql, args)
            return cur.rowcount

    async def expire_leases(self, owner: str, *, now: datetime | None = None) -> int:
        """End the leases of ``owner`` now (its process is known to be dead)."""
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'running'",
                (_ts(now_or(now) - timedelta(microseconds=1)), owner),
            )
            return cur.rowcount

    async def recover_expired(self, *, now: datetime | None = None) -> int:
        stamp = _ts(now_or(now))
        expired = "status = 'running' AND lease_expires_at < ?"
        cleared = "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
        gave_up = dump_json(GAVE_UP)
        async with self.db.write() as conn:
            await conn.execute(
                f"UPDATE tasks SET status = 'cancelled', message = 'cancelled on request', finished_at = ?, {cleared}"
                f" WHERE {expired} AND cancel_requested = 1",
                (stamp, stamp, stamp),
            )
            await conn.execute(
                f"UPDATE tasks SET status = 'failed', error = ?, finished_at = ?, {cleared}"
                f" WHERE {expired} AND attempts >= max_attempts",
                (gave_up, stamp, stamp, stamp),
            )
            cur = await conn.execute(
                f"UPDATE tasks SET status = 'queued', message = 'resumed after its worker stopped', {cleared}"
                f" WHERE {expired}",
                (stamp, stamp),
            )
            return cur.rowcount

    async def lease_owners(self) -> list[str]:
        async with self.db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT DISTINCT lease_owner FROM tasks WHERE status = 'running' AND lease_owner IS NOT NULL"
                )
            ).fetchall()
        return [r[0] for r in rows]

    async def prune_tasks(self, finished_before: datetime, *, batch: int = 1000) -> int:
        total = 0
        while True:  # small batches: never hold the write lock for long
            async with self.db.write() as conn:
                cur = await conn.execute(
                    "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks"
                    " WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)",
                    (_ts(finished_before), batch),
                )
                deleted = cur.rowcount
            total += deleted
            if deleted < batch:
                return total

    async def count_tasks(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        sql, args = "SELECT kind, status, COUNT(*) FROM tasks", cast(tuple[str, ...], ())
        if tenant is not None:
            sql, args = sql + " WHERE tenant = ?", (tenant,)
        async with self.db.read() as conn:
            rows = await (await conn.execute(sql + " GROUP BY kind, status", args)).fetchall()
        out: dict[str, dict[str, int]] = {}
        for kind, status, n in rows:
            out.setdefault(kind, {})[status] = int(n)
        return out


def _task(row: sqlite3.Row) -> Task:
    return task_from_row(row, _parse_ts)
