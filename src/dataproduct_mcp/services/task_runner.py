"""The worker pool that runs durable tasks: claims with a lease, heartbeats, retries, shutdown.

- At most ``workers`` tasks run at once; a free worker claims the oldest claimable task
  (woken at once by a local submission, else every ``poll_interval``).
- While a task runs, a monitor writes its progress (throttled) and renews the lease every
  ``lease_seconds / 3``; a cancellation requested elsewhere is seen at the next heartbeat.
- A crashed worker's tasks are claimed again when their lease expires; at start-up the
  leases of dead local processes are ended at once, so a restart after ``kill -9`` resumes
  the work without waiting. Handlers are idempotent, so the effect happens once. Such a run
  counts as a crash, not as an attempt of the retry budget: a task resumes after up to
  ``max_crashes`` (20) crashes and only then fails (it may be what kills its worker).
- A handler failing with a retryable error (registry down, rate limited, timeout) is retried
  with back-off up to the task's ``max_attempts``; other failures end the task ``failed``,
  logged under the task's trace id.
- Shutdown: stop claiming, ask running tasks to stop at their next checkpoint, wait up to
  ``shutdown_grace`` seconds, then put the tasks still held back in the queue (they resume on
  the next start) and return.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from anyio.abc import TaskStatus as AnyioTaskStatus
from pydantic import BaseModel

from dataproduct_mcp.context import request_scope
from dataproduct_mcp.domain.tasks import ClaimedTask, Task, TaskStatus
from dataproduct_mcp.errors import DpError, Internal, is_retryable
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.services.tasks import TaskCancelled, TaskService

__all__ = ["TaskContext", "TaskRunner"]

log = get_logger(__name__)


class TaskContext:
    """What a handler gets: who and what it runs for, progress reporting and cancellation.

    ``report``, ``is_cancelled`` and ``checkpoint`` are plain sync calls, safe (and cheap) from
    any thread, so blocking work moved to a worker thread can use them directly."""

    def __init__(self, task: Task, stopping: threading.Event) -> None:
        self.task = task
        self.task_id = task.id
        self.tenant = task.tenant
        self.attempt = task.attempts
        self._stopping = stopping
        self._cancel = threading.Event()
        self._lost = threading.Event()
        self._lock = threading.Lock()
        self._progress, self._message, self._dirty = task.progress, task.message, False

    def report(self, progress: float, message: str | None = None) -> None:
        """Record progress (0..1) and an optional message; written to the database throttled."""
        with self._lock:
            self._progress = min(1.0, max(0.0, float(progress)))
            if message is not None:
                self._message = message[:500]
            self._dirty = True

    def is_cancelled(self) -> bool:
        """True once the task should stop: cancellation requested, the worker is stopping, or
        its lease was lost."""
        return self._cancel.is_set() or self._stopping.is_set() or self._lost.is_set()

    def checkpoint(self) -> None:
        """Raise :class:`TaskCancelled` if the task should stop; call it between units of work."""
        if self.is_cancelled():
            raise TaskCancelled(self.task_id)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def request_cancel(self) -> None:
        self._cancel.set()

    def _take_progress(self) -> tuple[float, str | None] | None:
        with self._lock:
            if not self._dirty:
                return None
            self._dirty = False
            return self._progress, self._message


def _backoff(attempt: int) -> float:
    """Exponential back-off with jitter: ~1-2 s after the first attempt, at most a minute."""
    return min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _is_dead_local_owner(owner: str) -> bool:
    """An owner of this host whose process no longer exists (its leases can end now)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # another runner in this process: it may be alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class TaskRunner:
    def __init__(
        self,
        service: TaskService,
        *,
        workers: int = 2,
        lease_seconds: float = 30.0,
        retention_days: float = 7.0,
        poll_interval: float = 1.0,
        progress_interval: float = 0.25,
        prune_interval: float = 3600.0,
        shutdown_grace: float = 8.0,
        owner: str | None = None,
        retry_backoff: Callable[[int], float] | None = None,
        observer: Callable[[str, float], None] | None = None,
    ) -> None:
        self.service = service
        self.observer = observer  # (kind, seconds) of every run that ended: the task duration metric
        self.store = service.store
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.retention = timedelta(days=retention_days)
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.prune_interval = prune_interval
        self.shutdown_grace = shutdown_grace
        self.owner = owner or _owner_id()
        self.retry_backoff = retry_backoff or _backoff
        self.running: dict[str, TaskContext] = {}
        self.started = False
        self._stopping = threading.Event()
        self._wake: anyio.Event | None = None
        self._idle: anyio.Event | None = None
        self._dispatch_scope: anyio.CancelScope | None = None
        service.on_submit.append(self.wake)
        service.on_cancel.append(self._cancel_local)

    def register_kind(self, name: str, handler: Any, **kwargs: Any) -> None:
        self.service.register_kind(name, handler, **kwargs)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _cancel_local(self, task_id: str) -> None:
        ctx = self.running.get(task_id)
        if ctx is not None:
            ctx.request_cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- lifecycle ----------------------------------------------------------------------------

    async def recover(self) -> int:
        """Start-up recovery: end the leases of dead local processes, re-queue expired ones."""
        for owner in await self.store.lease_owners():
            if _is_dead_local_owner(owner):
                n = await self.store.expire_leases(owner)
                log.info("ended %d lease(s) of %s (process gone)", n, owner)
        n = await self.store.recover_expired()
        if n:
            log.info("re-queued %d task(s) whose worker stopped", n)
        return n

    async def run(self, *, task_status: AnyioTaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until :meth:`stop`; start it in the application's task group."""
        self._wake, self._idle = anyio.Event(), anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._prune_loop)
                self.started = True
                task_status.started()
                with anyio.CancelScope() as self._dispatch_scope:
                    if not self._stopping.is_set():
                        await self._dispatch(tg)
                # Stopping: running tasks stop at a checkpoint (is_cancelled is now true).
                with anyio.move_on_after(self.shutdown_grace):
                    while self.running:
                        await self._idle.wait()
                        self._idle = anyio.Event()
                if self.running:
                    log.warning("%d task(s) did not reach a checkpoint in time; interrupting", len(self.running))
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                n = await self.store.release_tasks(self.owner)
                if n:
                    log.info("released %d task(s) back to the queue; they resume on restart", n)
            self.started = False

    def stop(self) -> None:
        """Stop claiming and ask running tasks to stop (returns at once; ``run`` then finishes)."""
        self._stopping.set()
        if self._dispatch_scope is not None:
            self._dispatch_scope.cancel()

    # -- claiming -----------------------------------------------------------------------------

    async def _dispatch(self, tg: anyio.abc.TaskGroup) -> None:
        slots = anyio.Semaphore(self.workers)
        while True:
            await slots.acquire()
            self._wake = anyio.Event()  # replaced before claiming: a submission after this wakes us
            kinds = self.service.claimable_kinds()  # each time: kinds may be added or gated
            claimed: ClaimedTask | None = None
            try:
                with anyio.CancelScope(shield=True):
                    claimed = await self.store.claim_task(self.owner, self.lease_seconds, kinds)
            except Exception:
                log.exception("claiming a task failed; retrying in %.1f s", self.poll_interval)
            if claimed is None:
                slots.release()
                with anyio.move_on_after(self.poll_interval):
                    await self._wake.wait()
                continue
            if self._stopping.is_set():
                with anyio.CancelScope(shield=True):
                    await self.store.release_tasks(self.owner, [claimed.task.id])
                slots.release()
                return
            ctx = TaskContext(claimed.task, self._stopping)
            self.running[ctx.task_id] = ctx
            tg.start_soon(self._execute, ctx, slots)

    # -- running one task ---------------------------------------------------------------------

    async def _execute(self, ctx: TaskContext, slots: anyio.Semaphore) -> None:
        task = ctx.task
        try:
            with request_scope(tenant=task.tenant, trace_id=task.trace_id):
                await self._run_one(ctx)
        finally:
            self.running.pop(ctx.task_id, None)
            slots.release()
            if self._idle is not None:
                self._idle.set()
            self.service.notify(ctx.task_id)

    async def _run_one(self, ctx: TaskContext) -> None:
        task = ctx.task
        kind = self.service.kinds[task.kind]
        if task.cancel_requested:
            await self._finish(ctx, TaskStatus.cancelled)
            return
        if task.crashes >= task.max_crashes:  # claimed from a dead worker once too often
            error = Internal(
                f"the task's worker stopped {task.crashes} times while running it",
                suggestion="Look for crashes in the logs under the task's trace id, then submit it again.",
            )
            await self._finish(ctx, TaskStatus.failed, error=error.to_dict(task.trace_id or "-")["error"])
            return
        log.info("task %s (%s) started, attempt %d of %d", task.id, task.kind, task.attempts, task.max_attempts)
        started = time.perf_counter()
        outcome: tuple[str, Any] | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._monitor, ctx)
                try:
                    outcome = await self._invoke(kind.handler, ctx)
                finally:
                    tg.cancel_scope.cancel()
        finally:
            elapsed = time.perf_counter() - started
            with anyio.CancelScope(shield=True):
                await self._settle(ctx, outcome, elapsed)
            if self.observer is not None:
                self.observer(task.kind, elapsed)

    @staticmethod
    async def _invoke(handler: Any, ctx: TaskContext) -> tuple[str, Any]:
        try:
            result = await handler(ctx, dict(ctx.task.params))
        except TaskCancelled:
            return "cancelled", None
        except Exception as exc:
            if ctx.is_cancelled():  # the work noticed the cancellation its own way
                return "cancelled", None
            return "error", exc
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True)
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            return "error", exc
        return "succeeded", result

    async def _settle(self, ctx: TaskContext, outcome: tuple[str, Any] | None, elapsed: float) -> None:
        task = ctx.task
        try:
            if ctx._lost.is_set():
                log.warning("task %s lost its lease (another worker took it over); its outcome is dropped", task.id)
            elif outcome is None or (outcome[0] == "cancelled" and not ctx.cancel_requested and self.stopping):
                n = await self.store.release_tasks(self.owner, [task.id])
                log.info("task %s stopped by shutdown; back in the queue (%d)", task.id, n)
            elif outcome[0] == "cancelled":
                await self._finish(ctx, TaskStatus.cancelled)
                log.info("task %s cancelled after %.2f s", task.id, elapsed)
            elif outcome[0] == "succeeded":
                await self._flush_progress(ctx)
                await self._finish(ctx, TaskStatus.succeeded, result=outcome[1])
                log.info("task %s (%s) succeeded in %.2f s", task.id, task.kind, elapsed)
            else:
                await self._fail(ctx, outcome[1])
        except Exception:
            log.exception("recording the outcome of task %s failed; its lease will expire and it will rerun", task.id)

    async def _fail(self, ctx: TaskContext, exc: BaseException) -> None:
        task = ctx.task
        if isinstance(exc, DpError):
            err = exc
            log.warning("task %s (%s) failed: %s %s", task.id, task.kind, err.code, err.message)
        else:
            err = Internal("the task failed unexpectedly")
            log.error("task %s (%s) failed unexpectedly", task.id, task.kind, exc_info=exc)
        body = err.to_dict(task.trace_id or "-")["error"]
        if is_retryable(exc) and not task.final_attempt:
            delay = self.retry_backoff(task.attempts)
            run_after = datetime.now(UTC) + timedelta(seconds=delay)
            if await self.store.retry_task(task.id, self.owner, body, run_after):
                log.info("task %s will be retried in %.1f s", task.id, delay)
            return
        await self._finish(ctx, TaskStatus.failed, error=body)

    async def _finish(
        self, ctx: TaskContext, status: TaskStatus, *, result: Any = None, error: dict[str, Any] | None = None
    ) -> None:
        if not await self.store.finish_task(ctx.task_id, self.owner, status, result=result, error=error):
            log.warning("task %s was not finished by this worker: its lease was lost", ctx.task_id)

    async def _flush_progress(self, ctx: TaskContext) -> None:
        update = ctx._take_progress()
        if update is not None:
            if not await self.store.update_progress(ctx.task_id, self.owner, *update):
                ctx._lost.set()
            self.service.notify(ctx.task_id)

    async def _monitor(self, ctx: TaskContext) -> None:
        """Throttled progress writes and lease renewal until the handler returns."""
        beat_every = self.lease_seconds / 3
        next_beat = anyio.current_time() + beat_every
        while True:
            await anyio.sleep(min(self.progress_interval, beat_every))
            try:
                await self._flush_progress(ctx)
                if anyio.current_time() >= next_beat:
                    cancel = await self.store.heartbeat(ctx.task_id, self.owner, self.lease_seconds)
                    next_beat = anyio.current_time() + beat_every
                    if cancel is None:
                        ctx._lost.set()
                        log.warning("task %s: lease lost; stopping its work", ctx.task_id)
                        return
                    if cancel:
                        ctx.request_cancel()
            except Exception:
                log.exception("task %s: heartbeat failed (will retry)", ctx.task_id)

    # -- bounded history ----------------------------------------------------------------------

    async def prune_once(self) -> int:
        n = await self.store.prune_tasks(datetime.now(UTC) - self.retention)
        if n:
            log.info("pruned %d finished task(s) older than %s", n, self.retention)
        return n

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune_once()
            except Exception:
                log.exception("pruning finished tasks failed")
            await anyio.sleep(self.prune_interval)
