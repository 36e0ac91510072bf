"""Durable tasks (contract §9): long work that survives restarts and finishes exactly once in effect.

A task moves ``queued → running → succeeded | failed | cancelled``; a running task whose
worker died (lease expired) or was stopped at shutdown goes back to ``queued``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FINISHED", "MAX_CRASHES", "ClaimedTask", "Task", "TaskPage", "TaskStatus", "TaskSummary"]

MAX_CRASHES = 20  # runs that may end with the worker gone (crash, kill -9) before the task gives up


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED: frozenset[TaskStatus] = frozenset({TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled})


class TaskSummary(BaseModel):
    """A task without its parameters and result (what listings show)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Task UUID.")
    kind: str = Field(description="What the task does, e.g. 'validate-file' or 'validate-product'.")
    status: TaskStatus
    progress: float = Field(default=0.0, ge=0.0, le=1.0, description="0..1; 1 when finished successfully.")
    message: str | None = Field(default=None, description="Latest progress message.")
    error: dict[str, Any] | None = Field(
        default=None, description="Why it failed or was cancelled: {code, message, suggestion?, ...}."
    )
    attempts: int = Field(default=0, description="How many times a worker started it (a restart after a crash counts).")
    max_attempts: int = Field(default=3, description="Retryable failures are retried up to this many attempts.")
    crashes: int = Field(
        default=0,
        description="Runs that ended because the worker stopped (crash, kill -9, lost lease); it resumed each time.",
    )
    max_crashes: int = Field(
        default=MAX_CRASHES, description="After this many crashes the task fails (it may be what kills its worker)."
    )
    cancel_requested: bool = Field(
        default=False, description="Cancellation was asked; running work stops at a checkpoint."
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    retry_at: datetime | None = Field(
        default=None,
        description="Queued again after a temporary failure (e.g. the registry was down): not run before this time.",
    )
    trace_id: str | None = Field(
        default=None, description="Trace id of the request that submitted it (finds its logs)."
    )


class Task(TaskSummary):
    """One durable task with its parameters and (when succeeded) its result."""

    tenant: str
    params: dict[str, Any] = Field(default_factory=dict, description="The parameters it was submitted with.")
    result: Any = Field(default=None, description="The result (JSON) once succeeded.")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def final_attempt(self) -> bool:
        """This run is the last one a retryable failure gets (crashed runs do not use up attempts)."""
        return self.attempts - self.crashes >= self.max_attempts

    def summary(self) -> TaskSummary:
        return TaskSummary.model_validate(self.model_dump(include=set(TaskSummary.model_fields)))


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker holds under a lease (owner + expiry)."""

    task: Task
    lease_owner: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class TaskPage:
    items: list[Task]
    positions: list[int]  # keyset position of each item (resume after any of them)
    total: int
    next_after: int | None  # keyset position for the next page, None on the last page
