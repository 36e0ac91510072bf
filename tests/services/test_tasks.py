"""TaskService and TaskRunner on real SQLite files: running, cancelling, retrying, crashing, stopping.

No sleeps to wait for things: handlers signal anyio events and every wait is bounded by fail_after.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.persistence.test_sqlite_store import make as make_product

from dataproduct_mcp.context import current_tenant, current_trace_id, request_scope
from dataproduct_mcp.domain.tasks import TaskStatus
from dataproduct_mcp.errors import (
    DatabaseUnavailable,
    DpError,
    InvalidArgument,
    NotFound,
    RegistryUnavailable,
    UnsupportedFormat,
    is_retryable,
)
from dataproduct_mcp.persistence.store import SqliteStore
from dataproduct_mcp.services.task_runner import TaskContext, TaskRunner
from dataproduct_mcp.services.tasks import TaskService

pytestmark = pytest.mark.anyio

SECRET = b"s" * 32


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "db.sqlite3")
    await s.open()
    yield s
    await s.close()


@asynccontextmanager
async def running(runner: TaskRunner) -> AsyncIterator[TaskRunner]:
    await runner.recover()
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        try:
            yield runner
        finally:
            runner.stop()


def make(store: SqliteStore, **kw: Any) -> tuple[TaskService, TaskRunner]:
    service = TaskService(store, cursor_secret=SECRET)
    kw.setdefault("lease_seconds", 0.3)
    kw.setdefault("progress_interval", 0.02)
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("shutdown_grace", 5)
    return service, TaskRunner(service, **kw)


def blocking_kind(started: anyio.Event) -> Callable[[TaskContext, dict[str, Any]], Any]:
    """A handler that signals it started, then works in checkpointed steps until stopped."""

    async def handler(ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        ctx.report(0.5, "half way")
        started.set()
        while True:
            ctx.checkpoint()
            await anyio.sleep(0.01)

    return handler


async def test_a_submitted_task_runs_in_its_tenant_and_trace_scope_and_succeeds(store: SqliteStore) -> None:
    service, runner = make(store)
    seen: dict[str, Any] = {}

    async def echo(ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        seen.update(tenant=current_tenant(), trace=current_trace_id(), attempt=ctx.attempt)
        ctx.report(0.5, "half")
        return {"echo": params["x"]}

    runner.register_kind("echo", echo)
    async with running(runner):
        with request_scope(tenant="acme") as trace_id:
            task = await service.submit("acme", "echo", {"x": 41})
        assert task.status is TaskStatus.queued and task.trace_id == trace_id
        with anyio.fail_after(10):
            done = await service.wait("acme", task.id, timeout=10)
    assert (done.status, done.result, done.progress, done.attempts) == (TaskStatus.succeeded, {"echo": 41}, 1.0, 1)
    assert seen == {"tenant": "acme", "trace": trace_id, "attempt": 1}
    with pytest.raises(NotFound):
        await service.get("other", task.id)


async def test_submit_rejects_unknown_kinds_and_bad_params_at_once(store: SqliteStore) -> None:
    service, runner = make(store)
    from dataproduct_mcp.services.task_kinds import ValidateProductParams

    async def noop(ctx: TaskContext, params: dict[str, Any]) -> None:
        return None

    runner.register_kind("needs-product", noop, params_model=ValidateProductParams)
    with pytest.raises(InvalidArgument) as unknown:
        await service.submit("local", "no-such-kind", {})
    assert unknown.value.field == "kind"
    with pytest.raises(InvalidArgument):
        await service.submit("local", "needs-product", {"product_id": ""})
    with pytest.raises(ValueError):
        runner.register_kind("needs-product", noop)


async def test_cancelling_a_running_task_stops_it_at_its_next_checkpoint(store: SqliteStore) -> None:
    service, runner = make(store, lease_seconds=30)  # the local signal, not a heartbeat, stops it
    started = anyio.Event()
    runner.register_kind("block", blocking_kind(started))
    async with running(runner):
        task = await service.submit("local", "block", {})
        with anyio.fail_after(10):
            await started.wait()
            requested = await service.cancel("local", task.id)
            assert requested.status is TaskStatus.running and requested.cancel_requested
            done = await service.wait("local", task.id, timeout=10)
    assert done.status is TaskStatus.cancelled and done.finished_at is not None


async def test_a_cancel_requested_by_another_process_arrives_with_the_heartbeat(
    store: SqliteStore, tmp_path: Path
) -> None:
    service, runner = make(store, lease_seconds=0.3)
    started = anyio.Event()
    runner.register_kind("block", blocking_kind(started))
    other = SqliteStore(tmp_path / "db.sqlite3")  # a second connection set, as the CLI would use
    await other.open()
    try:
        async with running(runner):
            task = await service.submit("local", "block", {})
            with anyio.fail_after(10):
                await started.wait()
                await other.request_cancel("local", task.id)
                done = await service.wait("local", task.id, timeout=10)
        assert done.status is TaskStatus.cancelled
    finally:
        await other.close()


async def test_cancelling_a_queued_task_ends_it_without_running_it(store: SqliteStore) -> None:
    service, runner = make(store)
    ran = []

    async def record(ctx: TaskContext, params: dict[str, Any]) -> None:
        ran.append(ctx.task_id)

    runner.register_kind("record", record)  # no runner started: the task stays queued
    task = await service.submit("local", "record", {})
    assert (await service.cancel("local", task.id)).status is TaskStatus.cancelled
    async with running(runner):
        other = await service.submit("local", "record", {})
        with anyio.fail_after(10):
            await service.wait("local", other.id, timeout=10)
    assert ran == [other.id]


async def test_a_retryable_failure_is_retried_and_a_permanent_one_fails_with_its_code(store: SqliteStore) -> None:
    service, runner = make(store, retry_backoff=lambda attempt: 0.0)
    calls: list[int] = []

    async def flaky(ctx: TaskContext, params: dict[str, Any]) -> str:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RegistryUnavailable("registry down")
        return "delivered"

    async def broken(ctx: TaskContext, params: dict[str, Any]) -> None:
        raise UnsupportedFormat("not a format we know")

    async def buggy(ctx: TaskContext, params: dict[str, Any]) -> None:
        raise KeyError("oops")

    for name, fn in (("flaky", flaky), ("broken", broken), ("buggy", buggy)):
        runner.register_kind(name, fn)
    async with running(runner):
        with request_scope(tenant="local") as trace_id:
            tasks = [await service.submit("local", k, {}) for k in ("flaky", "broken", "buggy")]
        with anyio.fail_after(15):
            flaky_t, broken_t, buggy_t = [await service.wait("local", t.id, timeout=15) for t in tasks]
    assert (flaky_t.status, flaky_t.result, flaky_t.attempts, calls) == (TaskStatus.succeeded, "delivered", 2, [1, 2])
    assert broken_t.status is TaskStatus.failed and broken_t.attempts == 1
    assert broken_t.error is not None and broken_t.error["code"] == "unsupported-format"
    assert buggy_t.error is not None and buggy_t.error["code"] == "internal"
    assert buggy_t.error["trace_id"] == trace_id and "oops" not in buggy_t.error["message"]


async def test_a_database_locked_past_the_busy_timeout_is_retried_not_failed(tmp_path: Path) -> None:
    """Another process (a second real connection, ``BEGIN IMMEDIATE``) holds SQLite's write lock
    while the handler writes: past the busy timeout that is the retryable DatabaseUnavailable, so
    the task is retried like after a PostgreSQL blip, and the retry writes."""
    path = tmp_path / "busy.sqlite3"
    store = SqliteStore(path, busy_timeout_ms=50)
    await store.open()
    product, digest = make_product("written-by-a-task")
    met: list[tuple[int, str, bool]] = []

    async def write(ctx: TaskContext, params: dict[str, Any]) -> str:
        if ctx.attempt == 1:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                await store.insert_product(product, digest)
            except DpError as exc:
                met.append((ctx.attempt, type(exc).__name__, is_retryable(exc)))
                raise
            finally:
                other.rollback()
                other.close()
        await store.insert_product(product, digest)
        return product.id

    try:
        service, runner = make(store, workers=1, lease_seconds=30, retry_backoff=lambda attempt: 0.0)
        runner.register_kind("write", write)
        async with running(runner):
            task = await service.submit("local", "write", {})
            with anyio.fail_after(15):
                done = await service.wait("local", task.id, timeout=15)
        assert met == [(1, DatabaseUnavailable.__name__, True)]
        assert (done.status, done.result, done.attempts) == (TaskStatus.succeeded, product.id, 2)
        assert (await store.get_product("local", product.id)).id == product.id
    finally:
        await store.close()


async def test_workers_bound_how_many_tasks_run_at_once(store: SqliteStore) -> None:
    service, runner = make(store, workers=2)
    active, peak = 0, 0
    gate = anyio.Event()
    two_running = anyio.Event()

    async def hold(ctx: TaskContext, params: dict[str, Any]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 2:
            two_running.set()
        await gate.wait()
        active -= 1

    runner.register_kind("hold", hold)
    async with running(runner):
        tasks = [await service.submit("local", "hold", {}) for _ in range(5)]
        with anyio.fail_after(10):
            await two_running.wait()
            assert len(runner.running) == 2
            gate.set()
            for t in tasks:
                assert (await service.wait("local", t.id, timeout=10)).status is TaskStatus.succeeded
    assert peak == 2


async def test_graceful_shutdown_puts_running_tasks_back_in_the_queue(store: SqliteStore) -> None:
    service, runner = make(store, shutdown_grace=5)
    started = anyio.Event()
    runner.register_kind("block", blocking_kind(started))
    async with running(runner):
        task = await service.submit("local", "block", {})
        with anyio.fail_after(10):
            await started.wait()
    # running() stopped the runner: the task reached a checkpoint and went back, attempt not counted.
    back = await service.get("local", task.id)
    assert (back.status, back.attempts) == (TaskStatus.queued, 0)
    # A new runner (a restart) resumes it.
    service2, runner2 = make(store)
    resumed = anyio.Event()

    async def finish(ctx: TaskContext, params: dict[str, Any]) -> str:
        resumed.set()
        return "resumed"

    runner2.register_kind("block", finish)
    async with running(runner2):
        with anyio.fail_after(10):
            done = await service2.wait("local", task.id, timeout=10)
    assert (done.status, done.result) == (TaskStatus.succeeded, "resumed")


async def test_work_that_ignores_cancellation_is_interrupted_after_the_grace_period(store: SqliteStore) -> None:
    service, runner = make(store, shutdown_grace=0.2)
    started = anyio.Event()

    async def stubborn(ctx: TaskContext, params: dict[str, Any]) -> None:
        started.set()
        await anyio.Event().wait()  # never checks ctx.is_cancelled()

    runner.register_kind("stubborn", stubborn)
    with anyio.fail_after(10):
        async with running(runner):
            task = await service.submit("local", "stubborn", {})
            await started.wait()
    assert (await service.get("local", task.id)).status is TaskStatus.queued


async def test_a_dead_local_workers_tasks_resume_at_once_on_restart(store: SqliteStore) -> None:
    dead = subprocess.Popen(["true"])  # its pid no longer exists once reaped
    dead.wait()
    service, runner = make(store, lease_seconds=3600)
    done_event = anyio.Event()

    async def work(ctx: TaskContext, params: dict[str, Any]) -> int:
        done_event.set()
        return ctx.attempt

    runner.register_kind("work", work)
    task = await service.submit("local", "work", {})
    crashed_owner = f"{socket.gethostname()}:{dead.pid}:deadbeef"
    assert await store.claim_task(crashed_owner, 3600, ["work"]) is not None  # then "kill -9"
    async with running(runner):
        with anyio.fail_after(10):
            done = await service.wait("local", task.id, timeout=10)
    assert (done.status, done.result, done.attempts) == (TaskStatus.succeeded, 2, 2)


async def test_a_live_foreign_lease_is_not_stolen(store: SqliteStore) -> None:
    service, runner = make(store, lease_seconds=3600)

    async def work(ctx: TaskContext, params: dict[str, Any]) -> None:
        return None

    runner.register_kind("work", work)
    task = await service.submit("local", "work", {})
    assert await store.claim_task("some-other-host:1:abcd", 3600, ["work"]) is not None
    assert await runner.recover() == 0
    assert (await service.get("local", task.id)).status is TaskStatus.running


async def test_listing_pages_with_opaque_cursors_bound_to_the_filters(store: SqliteStore) -> None:
    service, runner = make(store)

    async def noop(ctx: TaskContext, params: dict[str, Any]) -> None:
        return None

    runner.register_kind("a", noop)
    runner.register_kind("b", noop)
    ids = [(await service.submit("local", "a" if i % 3 else "b", {})).id for i in range(7)]
    seen, cursor = [], None
    while True:
        page = await service.list("local", limit=3, cursor=cursor)
        assert page.total == 7
        seen += [t.id for t in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == list(reversed(ids))
    first = await service.list("local", kind="a", limit=2)
    assert first.total == 4 and {t.kind for t in first.items} == {"a"}
    with pytest.raises(InvalidArgument):
        await service.list("local", kind="b", cursor=first.next_cursor)
    with pytest.raises(InvalidArgument):
        await service.list("local", limit=0)
    assert await service.counts("local") == {"a": {"queued": 4}, "b": {"queued": 3}}


async def test_prune_once_removes_finished_history_past_the_retention(store: SqliteStore) -> None:
    service, runner = make(store, retention_days=1e-9)  # everything finished is already old

    async def noop(ctx: TaskContext, params: dict[str, Any]) -> None:
        return None

    runner.register_kind("noop", noop)
    async with running(runner):
        task = await service.submit("local", "noop", {})
        with anyio.fail_after(10):
            await service.wait("local", task.id, timeout=10)
    queued = await service.submit("local", "noop", {})
    assert await runner.prune_once() == 1
    with pytest.raises(NotFound):
        await service.get("local", task.id)
    assert (await service.get("local", queued.id)).status is TaskStatus.queued


async def test_wait_reports_each_change_and_returns_at_the_timeout(store: SqliteStore) -> None:
    service, runner = make(store)
    started = anyio.Event()
    runner.register_kind("block", blocking_kind(started))
    changes: list[tuple[str, float]] = []

    async def on_change(task: Any) -> None:
        changes.append((task.status.value, task.progress))

    async with running(runner):
        task = await service.submit("local", "block", {})
        with anyio.fail_after(10):
            await started.wait()
            current = await service.wait("local", task.id, timeout=0.3, on_change=on_change)
            await service.cancel("local", task.id)
    assert current.status is TaskStatus.running
    assert changes and changes[-1] == ("running", 0.5)


async def test_a_kind_that_is_not_ready_is_not_claimed_until_it_is(store: SqliteStore) -> None:
    service, runner = make(store)
    gate_open = False

    async def publish(ctx: TaskContext, params: dict[str, Any]) -> str:
        return "published"

    async def other(ctx: TaskContext, params: dict[str, Any]) -> str:
        return "done"

    runner.register_kind("publish", publish, ready=lambda: gate_open)
    runner.register_kind("other", other)
    async with running(runner):
        held = await service.submit("local", "publish", {})
        free = await service.submit("local", "other", {})
        with anyio.fail_after(10):
            assert (await service.wait("local", free.id, timeout=10)).status is TaskStatus.succeeded
            assert (await service.get("local", held.id)).status is TaskStatus.queued
            gate_open = True
            runner.wake()
            assert (await service.wait("local", held.id, timeout=10)).result == "published"
