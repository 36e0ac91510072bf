"""Scheduled maintenance: the state of a job as the database holds it (one row per job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dataproduct_mcp.domain.tasks import Task

__all__ = ["JobClaim", "JobState"]


@dataclass(frozen=True)
class JobState:
    """One maintenance job across the deployment (every replica sees the same row)."""

    job: str
    owner: str | None  # the process holding the job's lease (it alone schedules runs)
    lease_expires_at: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime
    last_task_id: str | None
    last_outcome: str | None  # running | succeeded | failed | cancelled | lost
    last_error: str | None
    runs: int
    failures: int

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "owner": self.owner,
            "lease_expires_at": iso(self.lease_expires_at),
            "last_run_at": iso(self.last_run_at),
            "next_run_at": iso(self.next_run_at),
            "last_task_id": self.last_task_id,
            "last_outcome": self.last_outcome,
            "last_error": self.last_error,
            "runs": self.runs,
            "failures": self.failures,
        }


@dataclass(frozen=True)
class JobClaim:
    """What one scheduler tick got for a job: whether it holds the lease, and the run it submitted."""

    state: JobState
    held: bool  # this owner holds the lease (only the holder submits runs)
    task: Task | None = None  # the run submitted in this tick (its durable task), if the job was due
    overlapped: bool = False  # due, but the previous run is still queued or running: this slot is skipped
