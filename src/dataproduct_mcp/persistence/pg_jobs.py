"""Scheduled maintenance on PostgreSQL: job leases, tombstone pruning, and database upkeep.

A job's lease and its run are taken in ONE transaction, as on SQLite: the row is created if new,
then locked (``SELECT ... FOR UPDATE``), the lease taken (free, ours, or expired), and -- when the
job is due -- its durable task inserted and ``next_run_at`` moved on. The row lock serialises the
replicas, so two of them never submit the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from dataproduct_mcp.domain.maintenance import JobClaim, JobState
from dataproduct_mcp.domain.tasks import FINISHED, Task, TaskStatus
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.pg_db import PgDatabase, parse_iso, rowcount
from dataproduct_mcp.persistence.pg_tasks import insert_task

__all__ = ["PgJobsMixin"]

log = get_logger(__name__)

_COLUMNS = (
    "job, owner, lease_expires_at, last_run_at, next_run_at, last_task_id, last_outcome, last_error, runs, failures"
)
_TABLES = ("products", "product_tags", "tasks", "ord_outbox", "audit_events", "job_leases")


def _state(row: asyncpg.Record) -> JobState:
    return JobState(
        job=row["job"],
        owner=row["owner"],
        lease_expires_at=row["lease_expires_at"],
        last_run_at=row["last_run_at"],
        next_run_at=row["next_run_at"],
        last_task_id=row["last_task_id"],
        last_outcome=row["last_outcome"],
        last_error=row["last_error"],
        runs=int(row["runs"]),
        failures=int(row["failures"]),
    )


def _error_text(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:500]
    return f"{body.get('code', 'error')}: {body.get('message', '')}"[:500]


class PgJobsMixin:
    db: PgDatabase

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
        lease_until = at + timedelta(seconds=lease_s)
        async with self.db.transaction() as conn:
            # First sight of the job: its first run is one interval from now (not at every start).
            await conn.execute(
                "INSERT INTO job_leases (job, next_run_at, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                job,
                at + interval,
                at,
            )
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM job_leases WHERE job = $1 FOR UPDATE", job)
            state = await self._reconcile(conn, _state(row), at)
            if state.owner not in (None, owner) and state.lease_expires_at is not None and state.lease_expires_at > at:
                return JobClaim(state=state, held=False)
            due = state.next_run_at <= at  # the same rule as SQLite: a skipped slot waits a whole interval
            if not due:
                # A shorter interval than when next_run_at was set takes effect now, not after the old one.
                await conn.execute(
                    "UPDATE job_leases SET owner = $1, lease_expires_at = $2, next_run_at = $3, updated_at = $4"
                    " WHERE job = $5",
                    owner,
                    lease_until,
                    min(state.next_run_at, at + interval),
                    at,
                    job,
                )
                return JobClaim(state=await self._read(conn, job), held=True)
            if state.last_outcome == "running":  # the previous run is still queued or running
                await conn.execute(
                    "UPDATE job_leases SET owner = $1, lease_expires_at = $2, next_run_at = $3, updated_at = $4"
                    " WHERE job = $5",
                    owner,
                    lease_until,
                    at + interval,
                    at,
                    job,
                )
                return JobClaim(state=await self._read(conn, job), held=True, overlapped=True)
            task = make_task()
            await insert_task(conn, task)
            await conn.execute(
                "UPDATE job_leases SET owner = $1, lease_expires_at = $2, last_run_at = $3, next_run_at = $4,"
                " last_task_id = $5, last_outcome = 'running', last_error = NULL, runs = runs + 1, updated_at = $3"
                " WHERE job = $6",
                owner,
                lease_until,
                at,
                at + interval,
                task.id,
                job,
            )
            return JobClaim(state=await self._read(conn, job), held=True, task=task)

    @staticmethod
    async def _read(conn: asyncpg.Connection, job: str) -> JobState:
        return _state(await conn.fetchrow(f"SELECT {_COLUMNS} FROM job_leases WHERE job = $1", job))

    async def _reconcile(self, conn: asyncpg.Connection, state: JobState, at: datetime) -> JobState:
        """A run whose task finished without its handler recording the outcome (the worker died,
        it was cancelled, it ran out of attempts): record it now, once."""
        if state.last_outcome != "running" or state.last_task_id is None:
            return state
        row = await conn.fetchrow("SELECT status, error FROM tasks WHERE id = $1", state.last_task_id)
        error: str | None
        if row is None:
            outcome, error = "lost", "the run's task no longer exists"
        elif TaskStatus(row[0]) in FINISHED:
            outcome, error = row[0], _error_text(row[1])
        else:
            return state
        failed = outcome in ("failed", "lost")
        await conn.execute(
            "UPDATE job_leases SET last_outcome = $1, last_error = $2, failures = failures + $3, updated_at = $4"
            " WHERE job = $5 AND last_task_id = $6 AND last_outcome = 'running'",
            outcome,
            error,
            int(failed),
            at,
            state.job,
            state.last_task_id,
        )
        if failed:
            log.warning("maintenance job %s: run %s ended %s: %s", state.job, state.last_task_id, outcome, error)
        return await self._read(conn, state.job)

    async def finish_job_run(
        self, job: str, task_id: str, outcome: str, error: str | None = None, *, now: datetime | None = None
    ) -> bool:
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE job_leases SET last_outcome = $1, last_error = $2, failures = failures + $3, updated_at = $4"
                " WHERE job = $5 AND last_task_id = $6 AND last_outcome = 'running'",
                outcome,
                None if error is None else error[:500],
                int(outcome == "failed"),
                now or datetime.now(UTC),
                job,
                task_id,
            )
        return rowcount(tag) > 0

    async def release_jobs(self, owner: str) -> int:
        async with self.db.connection() as conn:
            tag = await conn.execute(
                "UPDATE job_leases SET owner = NULL, lease_expires_at = NULL WHERE owner = $1", owner
            )
        return rowcount(tag)

    async def list_jobs(self) -> list[JobState]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM job_leases ORDER BY job")
        return [_state(r) for r in rows]

    async def product_tenants(self) -> list[str]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT DISTINCT tenant FROM products ORDER BY tenant")
        return [r[0] for r in rows]

    async def prune_tombstones(self, deleted_before_iso: str, *, batch: int = 1000) -> int:
        before = parse_iso(deleted_before_iso)
        total = 0
        while True:  # small batches: never hold many row locks for long
            async with self.db.connection() as conn:
                deleted = rowcount(
                    await conn.execute(
                        "DELETE FROM products WHERE seq IN (SELECT seq FROM products WHERE deleted_at IS NOT NULL"
                        " AND deleted_at < $1 AND id NOT IN"
                        " (SELECT product_id FROM ord_outbox WHERE status = 'pending') LIMIT $2)",
                        before,
                        batch,
                    )
                )
            total += deleted
            if deleted < batch:
                return total

    async def maintenance(self) -> dict[str, Any]:
        """Refresh the planner's statistics of our tables (autovacuum does the vacuuming; a manual
        VACUUM would compete with it on a shared server) and report their dead-row counts."""
        async with self.db.connection() as conn:
            for table in _TABLES:
                await conn.execute(f"ANALYZE {table}", timeout=max(self.db.timeout, 300))
            rows = await conn.fetch(
                "SELECT relname, n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema() AND relname = ANY($1::text[]) ORDER BY relname",
                list(_TABLES),
            )
        out = {
            "backend": "postgresql",
            "analyzed": list(_TABLES),
            "tables": {
                r[0]: {
                    "live_rows": int(r[1]),
                    "dead_rows": int(r[2]),
                    "last_autovacuum": r[3].isoformat() if r[3] else None,
                }
                for r in rows
            },
        }
        log.info("postgresql maintenance: %s", out)
        return out
