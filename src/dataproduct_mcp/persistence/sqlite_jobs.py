"""Scheduled maintenance on SQLite: job leases, tombstone pruning, and database upkeep.

A job's lease and its run are taken in ONE ``BEGIN IMMEDIATE`` unit of work: the row is read,
the lease taken (free, ours, or expired), and — when the job is due — its durable task inserted
and ``next_run_at`` moved on. SQLite's write lock serialises this across processes, so two
replicas never submit the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dataproduct_mcp.domain.maintenance import JobClaim, JobState
from dataproduct_mcp.domain.tasks import FINISHED, Task, TaskStatus
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.sqlite_db import Database
from dataproduct_mcp.persistence.sqlite_tasks import insert_task

__all__ = ["SqliteJobsMixin"]

log = get_logger(__name__)

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_COLUMNS = (
    "job, owner, lease_expires_at, last_run_at, next_run_at, last_task_id, last_outcome, last_error, runs, failures"
)
VACUUM_MIN_FREE_PAGES = 256  # a VACUUM rewrites the whole file: only when a quarter of it is free pages
VACUUM_FREE_RATIO = 0.25


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)


def _state(row: Any) -> JobState:
    return JobState(
        job=row[0],
        owner=row[1],
        lease_expires_at=_parse(row[2]),
        last_run_at=_parse(row[3]),
        next_run_at=_parse(row[4]) or datetime.now(UTC),
        last_task_id=row[5],
        last_outcome=row[6],
        last_error=row[7],
        runs=int(row[8]),
        failures=int(row[9]),
    )


def _error_text(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:500]
    return f"{body.get('code', 'error')}: {body.get('message', '')}"[:500]


class SqliteJobsMixin:
    db: Database

    async def claim_job(
        self,
        job: str,
        owner: str,
        *,
        interval_s: float,
        lease_s: float,
        make_task: Callable[[], Task],
        now: datetime | None = None,
    ) -> JobClaim:
        at = now or datetime.now(UTC)
        interval = timedelta(seconds=interval_s)
        async with self.db.write() as conn:
            # First sight of the job: its first run is one interval from now (not at every start).
            await conn.execute(
                "INSERT OR IGNORE INTO job_leases (job, next_run_at, updated_at) VALUES (?, ?, ?)",
                (job, _ts(at + interval), _ts(at)),
            )
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM job_leases WHERE job = ?", (job,))).fetchone()
            state = _state(row)
            state = await self._reconcile(conn, state, at)
            if state.owner not in (None, owner) and state.lease_expires_at is not None and state.lease_expires_at > at:
                return JobClaim(state=state, held=False)
            due = state.next_run_at <= at
            lease_until = _ts(at + timedelta(seconds=lease_s))
            if not due:
                # A shorter interval than when next_run_at was set takes effect now, not after the old one.
                next_run = min(state.next_run_at, at + interval)
                await conn.execute(
                    "UPDATE job_leases SET owner = ?, lease_expires_at = ?, next_run_at = ?, updated_at = ?"
                    " WHERE job = ?",
                    (owner, lease_until, _ts(next_run), _ts(at), job),
                )
                return JobClaim(state=await self._read(conn, job), held=True)
            if state.last_outcome == "running":  # the previous run is still queued or running
                await conn.execute(
                    "UPDATE job_leases SET owner = ?, lease_expires_at = ?, next_run_at = ?, updated_at = ?"
                    " WHERE job = ?",
                    (owner, lease_until, _ts(at + interval), _ts(at), job),
                )
                return JobClaim(state=await self._read(conn, job), held=True, overlapped=True)
            task = make_task()
            await insert_task(conn, task)
            await conn.execute(
                "UPDATE job_leases SET owner = ?, lease_expires_at = ?, last_run_at = ?, next_run_at = ?,"
                " last_task_id = ?, last_outcome = 'running', last_error = NULL, runs = runs + 1, updated_at = ?"
                " WHERE job = ?",
                (owner, lease_until, _ts(at), _ts(at + interval), task.id, _ts(at), job),
            )
            return JobClaim(state=await self._read(conn, job), held=True, task=task)

    @staticmethod
    async def _read(conn: Any, job: str) -> JobState:
        row = await (await conn.execute(f"SELECT {_COLUMNS} FROM job_leases WHERE job = ?", (job,))).fetchone()
        return _state(row)

    async def _reconcile(self, conn: Any, state: JobState, at: datetime) -> JobState:
        """A run whose task finished without its handler recording the outcome (the worker died,
        it was cancelled, it ran out of attempts): record it now, once."""
        if state.last_outcome != "running" or state.last_task_id is None:
            return state
        row = await (
            await conn.execute("SELECT status, error FROM tasks WHERE id = ?", (state.last_task_id,))
        ).fetchone()
        if row is None:
            outcome, error = "lost", "the run's task no longer exists"
        elif TaskStatus(row[0]) in FINISHED:
            outcome, error = row[0], _error_text(row[1])
        else:
            return state
        failed = outcome in ("failed", "lost")
        await conn.execute(
            "UPDATE job_leases SET last_outcome = ?, last_error = ?, failures = failures + ?, updated_at = ?"
            " WHERE job = ? AND last_task_id = ? AND last_outcome = 'running'",
            (outcome, error, int(failed), _ts(at), state.job, state.last_task_id),
        )
        if failed:
            log.warning("maintenance job %s: run %s ended %s: %s", state.job, state.last_task_id, outcome, error)
        return await self._read(conn, state.job)

    async def finish_job_run(
        self, job: str, task_id: str, outcome: str, error: str | None = None, *, now: datetime | None = None
    ) -> bool:
        at = now or datetime.now(UTC)
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE job_leases SET last_outcome = ?, last_error = ?, failures = failures + ?, updated_at = ?"
                " WHERE job = ? AND last_task_id = ? AND last_outcome = 'running'",
                (outcome, None if error is None else error[:500], int(outcome == "failed"), _ts(at), job, task_id),
            )
            return bool(cur.rowcount)

    async def release_jobs(self, owner: str) -> int:
        async with self.db.write() as conn:
            cur = await conn.execute(
                "UPDATE job_leases SET owner = NULL, lease_expires_at = NULL WHERE owner = ?", (owner,)
            )
            return cur.rowcount or 0

    async def list_jobs(self) -> list[JobState]:
        async with self.db.read() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM job_leases ORDER BY job")).fetchall()
        return [_state(r) for r in rows]

    async def product_tenants(self) -> list[str]:
        async with self.db.read() as conn:
            rows = await (await conn.execute("SELECT DISTINCT tenant FROM products ORDER BY tenant")).fetchall()
        return [r[0] for r in rows]

    async def prune_tombstones(self, deleted_before_iso: str, *, batch: int = 1000) -> int:
        total = 0
        while True:  # small batches: never hold the write lock for long
            async with self.db.write() as conn:
                cur = await conn.execute(
                    "DELETE FROM products WHERE seq IN (SELECT seq FROM products WHERE deleted_at IS NOT NULL"
                    " AND deleted_at < ? AND id NOT IN (SELECT product_id FROM ord_outbox WHERE status = 'pending')"
                    " LIMIT ?)",
                    (deleted_before_iso, batch),
                )
                deleted = cur.rowcount or 0
            total += deleted
            if deleted < batch:
                return total

    async def maintenance(self) -> dict[str, Any]:
        async with self.db.exclusive() as conn:

            async def one(sql: str) -> Any:
                row = await (await conn.execute(sql)).fetchone()
                return None if row is None else row[0]

            await conn.execute("PRAGMA optimize")
            pages, free, auto_vacuum = (
                await one("PRAGMA page_count"),
                await one("PRAGMA freelist_count"),
                await one("PRAGMA auto_vacuum"),
            )
            action = "none"
            if auto_vacuum == 2 and free:
                await conn.execute("PRAGMA incremental_vacuum")
                action = "incremental_vacuum"
            elif free >= VACUUM_MIN_FREE_PAGES and free >= VACUUM_FREE_RATIO * pages:
                await conn.execute("VACUUM")
                action = "vacuum"
            row = await (await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")).fetchone()
            after_pages, after_free = await one("PRAGMA page_count"), await one("PRAGMA freelist_count")
        out = {
            "backend": "sqlite",
            "optimized": True,
            "vacuum": action,
            "pages_before": pages,
            "free_pages_before": free,
            "pages_after": after_pages,
            "free_pages_after": after_free,
            "wal_checkpoint": {"busy": row[0], "log_frames": row[1], "checkpointed": row[2]} if row else None,
        }
        log.info("sqlite maintenance: %s", out)
        return out
