"""A small scheduler for maintenance jobs: one run per job and interval across all replicas.

Every tick (a third of the lease, or sooner when a job is due) the scheduler asks the store to
:meth:`~dataproduct_mcp.persistence.base.JobStore.claim_job` each enabled job: one transaction
takes or renews the job's database lease and — if this process holds it and the job is due —
inserts the run as a durable task of kind ``maintenance-<job>`` and moves ``next_run_at`` one
interval on. Whichever worker claims the task runs it, so a run survives a restart like any
task. Only the lease holder submits runs: with several replicas, each job runs once per interval;
when the holder dies its lease expires and another replica takes over.

A run that fails is logged under its task's trace id, counted in ``failures`` and retried on the
next interval (a run is not retried within its interval beyond one crash-recovery attempt). A
run that is still queued or running when the next one is due makes that slot skip, logged.

Time is injected (``clock``, ``sleep``) so tests move it without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio.abc import TaskStatus as AnyioTaskStatus

from dataproduct_mcp.context import new_trace_id
from dataproduct_mcp.domain.maintenance import JobClaim, JobState
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import DpError, is_retryable
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import Store
from dataproduct_mcp.services.maintenance import JOBS, MaintenanceJobs
from dataproduct_mcp.services.task_runner import TaskContext, _owner_id
from dataproduct_mcp.services.tasks import TaskCancelled, TaskService

__all__ = ["KIND_PREFIX", "Scheduler", "job_kind"]

log = get_logger(__name__)

KIND_PREFIX = "maintenance-"
MAX_ATTEMPTS = 2  # one more start after a crash; a failure waits for the next interval
MIN_DELAY_S = 0.05
FIRST_TICK_MAX_DELAY_S = 5.0  # let start-up writes settle; a job is first due one interval after first sight


def job_kind(job: str) -> str:
    return KIND_PREFIX + job


class Scheduler:
    def __init__(
        self,
        store: Store,
        tasks: TaskService,
        jobs: MaintenanceJobs,
        intervals: dict[str, float],
        *,
        tenant: str,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.jobs = jobs
        self.intervals = {job: float(intervals.get(job, 0)) for job in JOBS}
        self.tenant = tenant
        self.owner = owner or _owner_id()
        self.lease_seconds = lease_seconds
        self.tick_seconds = lease_seconds / 3
        self.clock = clock
        self.sleep = sleep
        self.started = False
        self.states: dict[str, JobState] = {}  # as of this process's last tick
        self.held: dict[str, bool] = {}
        self._scopes: set[anyio.CancelScope] = set()
        for job in JOBS:  # every kind, enabled here or not: a run another replica queued still runs
            tasks.register_kind(job_kind(job), self._wrap(job), max_attempts=MAX_ATTEMPTS)

    @property
    def enabled(self) -> dict[str, float]:
        """Jobs this process schedules: interval > 0 (republish also needs a registry)."""
        out = {job: s for job, s in self.intervals.items() if s > 0}
        if "republish" in out and (self.jobs.publication is None or not self.jobs.publication.configured):
            del out["republish"]
        return out

    # -- one run ------------------------------------------------------------------------------

    def _wrap(self, job: str) -> Callable[[TaskContext, dict[str, Any]], Awaitable[Any]]:
        async def run(ctx: TaskContext, params: dict[str, Any]) -> Any:
            try:
                result = await self.jobs.handler(job)(ctx, params)
            except TaskCancelled:
                raise
            except Exception as exc:
                if not ctx.is_cancelled() and (not is_retryable(exc) or ctx.task.final_attempt):
                    text = f"{exc.code}: {exc.message}" if isinstance(exc, DpError) else f"{type(exc).__name__}: {exc}"
                    log.error(
                        "maintenance job %s failed (task %s, trace %s): %s; it runs again on its next interval",
                        job,
                        ctx.task_id,
                        ctx.task.trace_id,
                        text,
                        exc_info=not isinstance(exc, DpError),
                    )
                    with anyio.CancelScope(shield=True):
                        await self.store.finish_job_run(job, ctx.task_id, "failed", text)
                raise
            with anyio.CancelScope(shield=True):
                await self.store.finish_job_run(job, ctx.task_id, "succeeded")
            log.info("maintenance job %s succeeded (task %s): %s", job, ctx.task_id, result)
            return result

        return run

    # -- scheduling ---------------------------------------------------------------------------

    def _task_factory(self, job: str, now: datetime) -> Callable[[], Task]:
        def make() -> Task:
            return Task(
                id=str(uuid.uuid4()),
                tenant=self.tenant,
                kind=job_kind(job),
                params={"job": job, "scheduled_by": self.owner},
                status=TaskStatus.queued,
                message="queued",
                max_attempts=MAX_ATTEMPTS,
                trace_id=new_trace_id(),
                created_at=now,
                updated_at=now,
            )

        return make

    async def tick(self) -> list[JobClaim]:
        """Claim every enabled job once: renew leases, submit the runs that are due."""
        claims = []
        for job, interval in self.enabled.items():
            now = self.clock()
            try:
                claim = await self.store.claim_job(
                    job,
                    self.owner,
                    interval_s=interval,
                    lease_s=self.lease_seconds,
                    make_task=self._task_factory(job, now),
                    now=now,
                )
            except Exception:
                log.exception("scheduler: claiming job %s failed; trying again on the next tick", job)
                continue
            self.states[job], self.held[job] = claim.state, claim.held
            if claim.task is not None:
                log.info(
                    "maintenance job %s: run %s queued (trace %s); next at %s",
                    job,
                    claim.task.id,
                    claim.task.trace_id,
                    claim.state.next_run_at.isoformat(),
                )
                for wake in self.tasks.on_submit:
                    wake()
            elif claim.overlapped:
                log.warning(
                    "maintenance job %s: run %s is still unfinished; skipping this interval",
                    job,
                    claim.state.last_task_id,
                )
            claims.append(claim)
        return claims

    def next_delay(self) -> float:
        """Seconds until the next tick: the earliest due job held here, at most a third of the lease."""
        now, delay = self.clock(), self.tick_seconds
        for job in self.enabled:
            state = self.states.get(job)
            if state is not None and self.held.get(job):
                delay = min(delay, (state.next_run_at - now).total_seconds())
        return max(MIN_DELAY_S, delay)

    async def run(self, *, task_status: AnyioTaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Tick until :meth:`stop`; start it in the application's task group."""
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            self.started = True
            task_status.started()
            try:
                if self.enabled:
                    log.info("scheduler %s: jobs %s", self.owner, self.enabled)
                if self.enabled:
                    await self.sleep(min(FIRST_TICK_MAX_DELAY_S, *self.enabled.values()))
                while self.enabled:
                    await self.tick()
                    await self.sleep(self.next_delay())
                await anyio.sleep_forever()
            finally:
                self._scopes.discard(scope)
                self.started = bool(self._scopes)

    def stop(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()

    async def aclose(self) -> None:
        """Give up this process's leases so another replica takes the jobs over at once."""
        try:
            with anyio.fail_after(5):
                await self.store.release_jobs(self.owner)
        except Exception as exc:
            log.warning("scheduler: releasing job leases failed (they expire on their own): %r", exc)

    # -- visibility ---------------------------------------------------------------------------

    async def status(self) -> dict[str, object]:
        """The ``scheduler`` component of health/status: per job interval, last/next run, outcome."""
        try:
            states = {s.job: s for s in await self.store.list_jobs()}
        except Exception:  # health reports, it does not raise
            states = dict(self.states)
        enabled = self.enabled
        jobs: dict[str, Any] = {}
        failing = False
        for job in JOBS:
            state = states.get(job)
            entry: dict[str, Any] = {
                "kind": job_kind(job),
                "enabled": job in enabled,
                "interval_seconds": self.intervals[job],
            }
            if state is not None:
                entry.update(state.to_dict())
                entry["held_here"] = state.owner == self.owner
                failing = failing or (job in enabled and state.last_outcome in ("failed", "lost"))
            jobs[job] = entry
        if not enabled:
            status = "disabled"
        else:
            status = "degraded" if failing or not self.started else "ok"
        return {"status": status, "detail": {"owner": self.owner, "tenant": self.tenant, "jobs": jobs}}

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{job: {runs, failures}} as of the last tick (metrics; no I/O)."""
        return {job: {"runs": s.runs, "failures": s.failures} for job, s in self.states.items()}
