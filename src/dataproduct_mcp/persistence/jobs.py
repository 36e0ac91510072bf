"""Scheduled maintenance (:class:`~dataproduct_mcp.persistence.base.JobStore`): job leases, tombstone
pruning, and the dialect's database upkeep.

A job's lease and its run are taken in ONE unit of work: the row is created if new, then read (on
PostgreSQL locked, ``SELECT ... FOR UPDATE``; on SQLite the unit of work holds the write lock), the
lease taken (free, ours, or expired), and -- when the job is due -- its durable task inserted and
``next_run_at`` moved on. So two replicas never submit the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dataproduct_mcp.domain.maintenance import JobClaim, JobState
from dataproduct_mcp.domain.tasks import FINISHED, Task, TaskStatus
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.dialects.base import Conn, Dialect, Row
from dataproduct_mcp.persistence.tasks import insert_task

__all__ = ["JobsMixin"]

log = get_logger(__name__)

_COLUMNS = (
    "job, owner, lease_expires_at, last_run_at, next_run_at, last_task_id, last_outcome, last_error, runs, failures"
)
_RECORD_OUTCOME = (
    "UPDATE job_leases SET last_outcome = ?, last_error = ?, failures = failures + ?, updated_at = ?"
    " WHERE job = ? AND last_task_id = ? AND last_outcome = 'running'"
)


def _error_text(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:500]
    return f"{body.get('code', 'error')}: {body.get('message', '')}"[:500]


class JobsMixin:
    db: Dialect

    def _state(self, row: Row) -> JobState:
        parse = self.db.from_db
        return JobState(
            job=row[0],
            owner=row[1],
            lease_expires_at=parse(row[2]),
            last_run_at=parse(row[3]),
            next_run_at=parse(row[4]) or datetime.now(UTC),  # NOT NULL in the table
            last_task_id=row[5],
            last_outcome=row[6],
            last_error=row[7],
            runs=int(row[8]),
            failures=int(row[9]),
        )

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
        ts = self.db.to_db
        lease_until = ts(at + timedelta(seconds=lease_s))
        async with self.db.atomic() as conn:
            # First sight of the job: its first run is one interval from now (not at every start).
            await conn.execute(
                "INSERT INTO job_leases (job, next_run_at, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                job,
                ts(at + interval),
                ts(at),
            )
            row = await conn.fetchone(f"SELECT {_COLUMNS} FROM job_leases WHERE job = ?" + self.db.for_update, job)
            assert row is not None  # inserted above if it was not there
            state = await self._reconcile(conn, self._state(row), at)
            if state.owner not in (None, owner) and state.lease_expires_at is not None and state.lease_expires_at > at:
                return JobClaim(state=state, held=False)
            due = state.next_run_at <= at  # a skipped slot waits a whole interval
            take_lease = "UPDATE job_leases SET owner = ?, lease_expires_at = ?, next_run_at = ?, updated_at = ?"
            if not due:
                # A shorter interval than when next_run_at was set takes effect now, not after the old one.
                next_run = min(state.next_run_at, at + interval)
                await conn.execute(take_lease + " WHERE job = ?", owner, lease_until, ts(next_run), ts(at), job)
                return JobClaim(state=await self._read(conn, job), held=True)
            if state.last_outcome == "running":  # the previous run is still queued or running
                await conn.execute(take_lease + " WHERE job = ?", owner, lease_until, ts(at + interval), ts(at), job)
                return JobClaim(state=await self._read(conn, job), held=True, overlapped=True)
            task = make_task()
            await insert_task(self.db, conn, task)
            await conn.execute(
                "UPDATE job_leases SET owner = ?, lease_expires_at = ?, last_run_at = ?, next_run_at = ?,"
                " last_task_id = ?, last_outcome = 'running', last_error = NULL, runs = runs + 1, updated_at = ?"
                " WHERE job = ?",
                owner,
                lease_until,
                ts(at),
                ts(at + interval),
                task.id,
                ts(at),
                job,
            )
            return JobClaim(state=await self._read(conn, job), held=True, task=task)

    async def _read(self, conn: Conn, job: str) -> JobState:
        row = await conn.fetchone(f"SELECT {_COLUMNS} FROM job_leases WHERE job = ?", job)
        assert row is not None  # read inside the unit of work that holds the row
        return self._state(row)

    async def _reconcile(self, conn: Conn, state: JobState, at: datetime) -> JobState:
        """A run whose task finished without its handler recording the outcome (the worker died,
        it was cancelled, it ran out of attempts): record it now, once."""
        if state.last_outcome != "running" or state.last_task_id is None:
            return state
        row = await conn.fetchone("SELECT status, error FROM tasks WHERE id = ?", state.last_task_id)
        error: str | None
        if row is None:
            outcome, error = "lost", "the run's task no longer exists"
        elif TaskStatus(row[0]) in FINISHED:
            outcome, error = row[0], _error_text(row[1])
        else:
            return state
        failed = outcome in ("failed", "lost")
        await conn.execute(
            _RECORD_OUTCOME, outcome, error, int(failed), self.db.to_db(at), state.job, state.last_task_id
        )
        if failed:
            log.warning("maintenance job %s: run %s ended %s: %s", state.job, state.last_task_id, outcome, error)
        return await self._read(conn, state.job)

    async def finish_job_run(
        self, job: str, task_id: str, outcome: str, error: str | None = None, *, now: datetime | None = None
    ) -> bool:
        async with self.db.writing() as conn:
            changed = await conn.execute(
                _RECORD_OUTCOME,
                outcome,
                None if error is None else error[:500],
                int(outcome == "failed"),
                self.db.to_db(now or datetime.now(UTC)),
                job,
                task_id,
            )
        return changed > 0

    async def release_jobs(self, owner: str) -> int:
        async with self.db.writing() as conn:
            return await conn.execute(
                "UPDATE job_leases SET owner = NULL, lease_expires_at = NULL WHERE owner = ?", owner
            )

    async def list_jobs(self) -> list[JobState]:
        async with self.db.reading() as conn:
            rows = await conn.fetchall(f"SELECT {_COLUMNS} FROM job_leases ORDER BY job")
        return [self._state(r) for r in rows]

    async def product_tenants(self) -> list[str]:
        async with self.db.reading() as conn:
            rows = await conn.fetchall("SELECT DISTINCT tenant FROM products ORDER BY tenant")
        return [r[0] for r in rows]

    async def prune_tombstones(self, deleted_before_iso: str, *, batch: int = 1000) -> int:
        before = self.db.iso_to_db(deleted_before_iso)
        total = 0
        while True:  # small batches: never hold the write lock (or many row locks) for long
            async with self.db.writing() as conn:
                deleted = await conn.execute(
                    "DELETE FROM products WHERE seq IN (SELECT seq FROM products WHERE deleted_at IS NOT NULL"
                    " AND deleted_at < ? AND id NOT IN (SELECT product_id FROM ord_outbox WHERE status = 'pending')"
                    " LIMIT ?)",
                    before,
                    batch,
                )
            total += deleted
            if deleted < batch:
                return total

    async def maintenance(self) -> dict[str, Any]:
        return await self.db.maintenance()
