"""Durable task use cases (contract §9): submit, get, list, cancel, wait; and the registry of task kinds.

A task kind is a name, an async handler ``(ctx: TaskContext, params) -> result JSON``, and
optionally a pydantic model that checks its parameters at submission and a ``precheck`` (e.g.
"the product exists") so a caller learns about a wrong argument at once, not from a failed task.
The :class:`~dataproduct_mcp.services.task_runner.TaskRunner` claims and runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ValidationError

from dataproduct_mcp.context import current_trace_id
from dataproduct_mcp.domain.tasks import Task, TaskStatus, TaskSummary
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import Store
from dataproduct_mcp.services.paging import CursorCodec, CursorKey
from dataproduct_mcp.services.products import invalid_argument_from

if TYPE_CHECKING:
    from dataproduct_mcp.services.task_runner import TaskContext

__all__ = ["TaskCancelled", "TaskKind", "TaskListResult", "TaskService"]

log = get_logger(__name__)

MAX_PAGE = 100
WAIT_POLL_S = 1.0  # a waiter re-reads the task at least this often (work done by another process)

Handler = Callable[["TaskContext", dict[str, Any]], Awaitable[Any]]
Precheck = Callable[[str, dict[str, Any]], Awaitable[None]]


class TaskCancelled(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised at a checkpoint of a task whose cancellation was requested (or whose worker is stopping)."""


@dataclass(frozen=True)
class TaskKind:
    name: str
    handler: Handler
    params_model: type[BaseModel] | None = None
    precheck: Precheck | None = None
    max_attempts: int = 3
    ready: Callable[[], bool] | None = None  # False: do not claim this kind now (e.g. breaker open)


@dataclass(frozen=True)
class TaskListResult:
    items: list[TaskSummary]
    next_cursor: str | None
    total: int


class TaskService:
    def __init__(
        self,
        store: Store,
        *,
        cursor_secret: bytes | CursorKey,
        max_result_bytes: int = 64 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.cursors = CursorCodec(cursor_secret, purpose=b"tasks")
        self.max_result_bytes = max_result_bytes
        self.clock = clock
        self.kinds: dict[str, TaskKind] = {}
        self.on_submit: list[Callable[[], None]] = []  # a local runner wakes up
        self.on_cancel: list[Callable[[str], None]] = []  # a local runner stops the task now
        self._waiters: dict[str, set[anyio.Event]] = {}

    # -- kinds --------------------------------------------------------------------------------

    def register_kind(
        self,
        name: str,
        handler: Handler,
        *,
        params_model: type[BaseModel] | None = None,
        precheck: Precheck | None = None,
        max_attempts: int = 3,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        """Register a kind. ``ready`` (sync, cheap) lets a kind hold its queued tasks back while it
        cannot make progress — e.g. publication while the registry's circuit breaker is open — so
        workers do not claim and reschedule them in a loop; they are claimed once it returns True."""
        if name in self.kinds:
            raise ValueError(f"task kind {name!r} is already registered")
        self.kinds[name] = TaskKind(name, handler, params_model, precheck, max_attempts, ready)

    def claimable_kinds(self) -> list[str]:
        """Kinds workers may claim now (registered, and ready)."""
        out = []
        for name, spec in self.kinds.items():
            try:
                if spec.ready is None or spec.ready():
                    out.append(name)
            except Exception:  # a broken gate must not stop the other kinds
                log.exception("readiness check of task kind %s failed; not claiming it now", name)
        return sorted(out)

    # -- use cases ----------------------------------------------------------------------------

    async def submit(self, tenant: str, kind: str, params: Mapping[str, Any] | None = None) -> Task:
        """Queue a task (trace id of the current request); it runs when a worker is free."""
        spec = self.kinds.get(kind)
        if spec is None:
            raise InvalidArgument(f"unknown task kind {kind!r}; known: {sorted(self.kinds)}", field="kind")
        data = dict(params or {})
        if spec.params_model is not None:
            try:
                data = spec.params_model.model_validate(data).model_dump(mode="json", by_alias=True)
            except ValidationError as exc:
                raise invalid_argument_from(exc) from exc
        if spec.precheck is not None:
            await spec.precheck(tenant, data)
        now = self.clock()
        task = Task(
            id=str(uuid.uuid4()),
            tenant=tenant,
            kind=kind,
            params=data,
            status=TaskStatus.queued,
            message="queued",
            max_attempts=spec.max_attempts,
            trace_id=current_trace_id(),
            created_at=now,
            updated_at=now,
        )
        await self.store.create_task(task)
        log.info("submitted task %s (%s)", task.id, kind)
        for wake in self.on_submit:
            wake()
        return task

    async def submit_and_wait(
        self,
        tenant: str,
        kind: str,
        params: Mapping[str, Any] | None,
        wait_seconds: float,
        on_change: Callable[[Task], Awaitable[None]] | None = None,
    ) -> Task:
        """Submit, then (``wait_seconds`` > 0) wait up to that long for the task to finish,
        reporting each change; the task as it is then."""
        task = await self.submit(tenant, kind, params)
        if wait_seconds > 0:
            task = await self.wait(tenant, task.id, wait_seconds, on_change=on_change)
        return task

    async def get(self, tenant: str, task_id: str) -> Task:
        return await self.store.get_task(tenant, task_id)

    async def list(
        self,
        tenant: str,
        *,
        status: TaskStatus | None = None,
        kind: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> TaskListResult:
        """Newest first; items are summaries (get_task has params and result)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidArgument(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        key = {"x": "tasks", "s": status, "k": kind}
        before = self.cursors.decode(cursor, key) if cursor else None
        page = await self.store.list_tasks(tenant, status=status, kind=kind, limit=limit, before=before)
        items, next_pos = [t.summary() for t in page.items], page.next_after
        budget, used = self.max_result_bytes - 1024, 0
        for i, item in enumerate(items):  # end the page early rather than exceed the result budget
            used += len(item.model_dump_json().encode()) + 2
            if used > budget and i > 0:
                items, next_pos = items[:i], page.positions[i - 1]
                break
        next_cursor = self.cursors.encode(next_pos, key) if next_pos is not None else None
        return TaskListResult(items=items, next_cursor=next_cursor, total=page.total)

    async def cancel(self, tenant: str, task_id: str) -> Task:
        """Queued: cancelled at once. Running: cancellation requested; the work stops at its next
        checkpoint (at once in this process, within a heartbeat elsewhere). Finished: unchanged."""
        task = await self.store.request_cancel(tenant, task_id, now=self.clock())
        if task.status is TaskStatus.running:
            for stop in self.on_cancel:
                stop(task.id)
        self.notify(task.id)
        log.info("cancel requested for task %s (now %s)", task.id, task.status.value)
        return task

    async def counts(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        return await self.store.count_tasks(tenant)

    # -- waiting for changes ------------------------------------------------------------------

    def notify(self, task_id: str) -> None:
        """The task changed (progress, final state): wake its waiters."""
        for event in self._waiters.pop(task_id, ()):
            event.set()

    async def wait(
        self,
        tenant: str,
        task_id: str,
        timeout: float,
        on_change: Callable[[Task], Awaitable[None]] | None = None,
        give_up: Callable[[Task, float], Exception | None] | None = None,
    ) -> Task:
        """Wait up to ``timeout`` seconds for the task to finish, calling ``on_change`` with each new
        state (progress or message changed); the task as it is when finished or at the timeout.
        ``give_up(task, seconds_left)`` is asked at each new state: an exception it returns is raised
        at once (the caller knows the task cannot finish within the wait)."""
        deadline = anyio.current_time() + timeout
        seen: tuple[Any, ...] | None = None
        while True:
            event = anyio.Event()
            self._waiters.setdefault(task_id, set()).add(event)  # before reading: no change is missed
            try:
                task = await self.get(tenant, task_id)
                state = (task.status, task.progress, task.message, task.retry_at)
                remaining = deadline - anyio.current_time()
                if state != seen:
                    if on_change is not None:
                        await on_change(task)
                    if give_up is not None and not task.finished:
                        reason = give_up(task, remaining)
                        if reason is not None:
                            raise reason
                seen = state
                if task.finished or remaining <= 0:
                    return task
                with anyio.move_on_after(min(remaining, WAIT_POLL_S)):
                    await event.wait()
            finally:
                waiters = self._waiters.get(task_id)
                if waiters is not None:
                    waiters.discard(event)
                    if not waiters:
                        self._waiters.pop(task_id, None)
