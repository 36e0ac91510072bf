"""Row ↔ model helpers shared by the store's concept modules (the SQL stays in those modules)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.persistence.dialects.base import Row

__all__ = ["GAVE_UP", "TASK_COLUMNS", "dump_json", "now_or", "task_from_row"]

TASK_COLUMNS = (
    "seq, id, tenant, kind, params, status, progress, message, result, error, attempts, max_attempts,"
    " lease_owner, lease_expires_at, cancel_requested, trace_id, created_at, updated_at, started_at, finished_at,"
    " run_after"
)

# The error of a task whose worker died too often (its attempts ran out through lease expiry).
GAVE_UP = {
    "code": "internal",
    "message": "the task's worker stopped before finishing it too many times",
    "suggestion": "Look for crashes in the logs under the task's trace id, then submit it again.",
}


def now_or(now: datetime | None) -> datetime:
    """The caller's clock if given (tests move it), else the current UTC time."""
    return now if now is not None else datetime.now(UTC)


def dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def task_from_row(row: Row, parse_ts: Callable[[Any], datetime | None]) -> Task:
    """A task from a row; ``parse_ts`` is the dialect's ``from_db`` (SQLite stores fixed-width UTC
    text, PostgreSQL returns timestamptz)."""
    return Task(
        id=row["id"],
        tenant=row["tenant"],
        kind=row["kind"],
        params=json.loads(row["params"]),
        status=TaskStatus(row["status"]),
        progress=row["progress"],
        message=row["message"],
        result=None if row["result"] is None else json.loads(row["result"]),
        error=None if row["error"] is None else json.loads(row["error"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        cancel_requested=bool(row["cancel_requested"]),
        trace_id=row["trace_id"],
        created_at=parse_ts(row["created_at"]) or datetime.now(UTC),  # NOT NULL in the table
        updated_at=parse_ts(row["updated_at"]) or datetime.now(UTC),
        started_at=parse_ts(row["started_at"]),
        finished_at=parse_ts(row["finished_at"]),
        retry_at=parse_ts(row["run_after"]),
    )
