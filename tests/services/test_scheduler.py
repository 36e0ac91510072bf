"""Scheduled maintenance: jobs on injected time, each run a durable task; leases; the four jobs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.helpers import product_args
from tests.ord.registry_fake import RegistryFake

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings, load_settings
from dataproduct_mcp.domain.audit import AuditKind
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.store import SqliteStore
from dataproduct_mcp.services.scheduler import Scheduler, job_kind
from dataproduct_mcp.services.task_runner import TaskContext

pytestmark = pytest.mark.anyio

OFF = {f"schedule_{job}_seconds": 0 for job in ("revalidate", "republish", "prune", "vacuum")}
CSV = "id,amount\n1,10\n2,20\n"


class FakeTime:
    """The scheduler's clock and sleep: sleeping moves the clock, nothing waits for real."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await anyio.lowlevel.checkpoint()


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return load_settings(data_dir=data, allowed_roots=[tmp_path], **{**OFF, **extra})


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


async def started(settings: Settings, time: FakeTime) -> Application:
    """An application whose scheduler runs on fake time (its own loop is idle: every job is off in
    the settings; tests set intervals and call tick())."""
    app = Application.build(settings)
    assert app.scheduler is not None and app.task_runner is not None
    app.scheduler.clock, app.scheduler.sleep = time.clock, time.sleep
    app.task_runner.shutdown_grace = 0.5
    return app


@pytest.fixture
async def app(tmp_path: Path, time: FakeTime) -> AsyncIterator[Application]:
    application = await started(make_settings(tmp_path), time)
    async with application:
        yield application


def sched(app: Application) -> Scheduler:
    assert app.scheduler is not None
    return app.scheduler


async def finished(app: Application, task: Task | None, tenant: str | None = None) -> Task:
    assert task is not None and app.tasks is not None
    with anyio.fail_after(20):
        done = await app.tasks.wait(tenant or app.default_tenant(), task.id, 20)
    assert done.finished, done
    return done


async def run_job(app: Application, time: FakeTime, job: str, interval: float = 60) -> Task:
    """Make ``job`` due (one interval after its first sight) and run it once to the end."""
    s = sched(app)
    s.intervals[job] = interval
    if job not in s.states:
        await s.tick()  # first sight: due one interval from now
    time.now = max(time.now, s.states[job].next_run_at)
    claims = {c.state.job: c for c in await s.tick()}
    return await finished(app, claims[job].task)


async def tasks_of(app: Application, kind: str, tenant: str | None = None) -> list[Task]:
    page = await app.store.list_tasks(tenant or app.default_tenant(), status=None, kind=kind, limit=100, before=None)
    return page.items


# -- scheduling --------------------------------------------------------------------------------


async def test_a_job_runs_once_per_interval_as_a_durable_task(app: Application, time: FakeTime) -> None:
    s = sched(app)
    s.intervals["prune"] = 10
    assert [c.task for c in await s.tick()] == [None]  # first sight: due in one interval
    time.advance(9)
    assert [c.task for c in await s.tick()] == [None]
    time.advance(1)
    first = (await s.tick())[0]
    assert first.held and first.task is not None and first.task.kind == "maintenance-prune"
    assert first.state.next_run_at == time.now + timedelta(seconds=10)
    done = await finished(app, first.task)
    assert done.status is TaskStatus.succeeded and set(done.result) == {"tasks", "tombstones", "audit_events"}
    assert (await s.tick())[0].task is None  # not due again within the interval
    time.advance(10)
    second = await finished(app, (await s.tick())[0].task)
    assert second.status is TaskStatus.succeeded
    [state] = await app.store.list_jobs()
    assert (state.runs, state.failures, state.last_outcome, state.last_task_id) == (2, 0, "succeeded", second.id)
    # The runs are the deployment tenant's tasks: list_tasks shows them.
    assert {t.id for t in await tasks_of(app, "maintenance-prune")} == {first.task.id, second.id}


async def test_the_loop_ticks_on_injected_time(app: Application, time: FakeTime) -> None:
    s = sched(app)
    s.intervals["vacuum"] = 30
    async with anyio.create_task_group() as tg:
        await tg.start(s.run)
        with anyio.fail_after(20):
            while s.states.get("vacuum") is None or s.states["vacuum"].runs < 2:
                await anyio.lowlevel.checkpoint()  # each fake sleep moves time on; no real waiting
        s.stop()
    assert all(d <= s.tick_seconds for d in time.slept)
    assert time.now - datetime(2030, 1, 1, tzinfo=UTC) >= timedelta(seconds=60)  # two intervals, in virtual time


async def test_a_failing_job_is_logged_counted_and_runs_again_next_interval(
    app: Application, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    s = sched(app)
    calls = 0
    real = s.jobs.prune

    async def flaky(ctx: TaskContext, params: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk on fire")
        return await real(ctx, params)

    s.jobs.prune = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="dataproduct_mcp"):
        failed = await run_job(app, time, "prune", interval=10)
    assert failed.status is TaskStatus.failed and failed.error is not None and failed.error["code"] == "internal"
    assert any(failed.id in r.getMessage() and str(failed.trace_id) in r.getMessage() for r in caplog.records)
    [state] = await app.store.list_jobs()
    assert (state.runs, state.failures, state.last_outcome) == (1, 1, "failed")
    assert state.last_error is not None and "disk on fire" in state.last_error
    health = await app.health.components()
    assert health["scheduler"]["status"] == "degraded"
    assert health["scheduler"]["detail"]["jobs"]["prune"]["failures"] == 1  # type: ignore[index]
    # Next interval: it runs again, and succeeds.
    time.advance(10)
    again = await finished(app, (await s.tick())[0].task)
    assert again.status is TaskStatus.succeeded and calls == 2
    [state] = await app.store.list_jobs()
    assert (state.runs, state.failures, state.last_outcome) == (2, 1, "succeeded")
    assert (await app.health.components())["scheduler"]["status"] == "ok"
    assert s.snapshot()["prune"] == {"runs": 2, "failures": 1}


async def test_a_run_that_ended_without_its_outcome_is_reconciled_and_counted(app: Application, time: FakeTime) -> None:
    s = sched(app)
    assert app.task_runner is not None
    app.task_runner.stop()  # nobody runs the task: it stays queued
    s.intervals["prune"] = 10
    await s.tick()
    time.advance(10)
    run = (await s.tick())[0].task
    assert run is not None
    time.advance(10)
    overlapped = (await s.tick())[0]
    assert overlapped.overlapped and overlapped.task is None  # the previous run is still queued
    assert app.tasks is not None
    cancelled = await app.tasks.cancel(app.default_tenant(), run.id)  # ends without its handler
    assert cancelled.status is TaskStatus.cancelled, cancelled
    claim = (await s.tick())[0]
    assert claim.state.last_outcome == "cancelled"
    assert claim.state.runs == 1


async def test_get_server_status_shows_every_job(app: Application, time: FakeTime) -> None:
    await run_job(app, time, "vacuum", interval=86400)
    detail = (await app.health.components())["scheduler"]["detail"]
    jobs = detail["jobs"]  # type: ignore[index]
    assert set(jobs) == {"revalidate", "republish", "prune", "vacuum"}
    vacuum = jobs["vacuum"]
    assert vacuum["kind"] == "maintenance-vacuum" and vacuum["enabled"] and vacuum["held_here"]
    assert vacuum["runs"] == 1 and vacuum["last_outcome"] == "succeeded"
    assert vacuum["next_run_at"] == (time.now + timedelta(seconds=86400)).isoformat()
    assert jobs["republish"]["enabled"] is False  # no registry configured


# -- the lease ---------------------------------------------------------------------------------


async def test_only_the_lease_holder_submits_runs_and_another_takes_over_when_it_expires(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    a, b = SqliteStore(db), SqliteStore(db)
    await a.open()
    await b.open()
    try:
        t0 = datetime(2030, 1, 1, tzinfo=UTC)

        def make(owner: str) -> Any:
            return lambda: Task(
                id=f"{owner}-{os.urandom(4).hex()}", tenant="local", kind="maintenance-prune",
                status=TaskStatus.queued, created_at=t0, updated_at=t0,
            )  # fmt: skip

        async def claim(store: SqliteStore, owner: str, at: datetime) -> Any:
            return await store.claim_job("prune", owner, interval_s=10, lease_s=30, make_task=make(owner), now=at)

        assert (await claim(a, "A", t0)).held
        assert not (await claim(b, "B", t0 + timedelta(seconds=1))).held
        # Due: both ask at the same moment; only the holder submits.
        due = t0 + timedelta(seconds=10)
        results: dict[str, Any] = {}

        async def ask(store: SqliteStore, owner: str) -> None:
            results[owner] = await claim(store, owner, due)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, a, "A")
            tg.start_soon(ask, b, "B")
        assert results["A"].task is not None and results["B"].task is None and not results["B"].held
        # A goes away without releasing: B takes over once the lease expired, and runs the next slot.
        later = due + timedelta(seconds=31)
        taken = await claim(b, "B", later)
        assert taken.held and taken.state.owner == "B" and taken.task is None  # A's run is still queued
        await a.release_jobs("B")
        assert (await claim(a, "A", later)).held
    finally:
        await a.close()
        await b.close()


# -- revalidate --------------------------------------------------------------------------------


async def register_with_file(app: Application, path: Path, name: str = "orders") -> str:
    product, _ = await app.products.register(
        app.default_tenant(), product_args(name, files=[{"path": str(path), "format": "csv"}])
    )
    return product.id


async def validate(app: Application, product_id: str) -> None:
    assert app.tasks is not None
    task = await app.tasks.submit(app.default_tenant(), "validate-product", {"product_id": product_id})
    assert (await finished(app, task)).status is TaskStatus.succeeded


async def test_a_changed_file_is_revalidated_exactly_once(app: Application, time: FakeTime, tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(CSV)
    product_id = await register_with_file(app, data)
    never = await register_with_file(app, data, "never-validated")
    await validate(app, product_id)
    recorded = (await app.products.get(app.default_tenant(), product_id=product_id)).last_validation
    assert recorded is not None and recorded.files[0].size == len(CSV)

    run = await run_job(app, time, "revalidate")
    assert run.result == {"checked": 1, "submitted": 0, "already_pending": 0}  # no change: nothing
    assert len(await tasks_of(app, "validate-product")) == 1

    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, same content
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 0

    data.write_text(CSV + "3,30\n")  # changed
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 1
    validations = await tasks_of(app, "validate-product")
    assert len(validations) == 2 and validations[0].params == {"product_id": product_id}
    await finished(app, validations[0])
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 0  # once per change
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 0
    assert len(await tasks_of(app, "validate-product")) == 2
    assert all(t.params["product_id"] != never for t in await tasks_of(app, "validate-product"))


async def test_a_dataset_file_is_revalidated_when_a_file_is_added_to_it(
    app: Application, time: FakeTime, tmp_path: Path
) -> None:
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "day-1.csv").write_text(CSV)
    product, _ = await app.products.register(
        app.default_tenant(), product_args("daily", files=[{"path": str(folder / "*.csv")}])
    )
    await validate(app, product.id)
    recorded = (await app.products.get(app.default_tenant(), product_id=product.id)).last_validation
    assert recorded is not None and recorded.valid and recorded.files[0].size == len(CSV)
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 0  # unchanged listing
    (folder / "day-2.csv").write_text(CSV)
    assert (await run_job(app, time, "revalidate")).result["submitted"] == 1


async def test_a_change_is_not_queued_twice_while_its_validation_waits(
    app: Application, time: FakeTime, tmp_path: Path
) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(CSV)
    product_id = await register_with_file(app, data)
    await validate(app, product_id)
    assert app.task_runner is not None
    app.task_runner.stop()  # validations stay queued
    data.write_text(CSV + "3,30\n")
    s = sched(app)
    task = await app.store.get_task(app.default_tenant(), (await tasks_of(app, "validate-product"))[0].id)
    ctx = TaskContext(task, threading.Event())
    first = await s.jobs.revalidate(ctx, {})
    second = await s.jobs.revalidate(ctx, {})
    assert first["submitted"] == 1 and second == {"checked": 1, "submitted": 0, "already_pending": 1}
    assert len(await tasks_of(app, "validate-product")) == 2


# -- republish ---------------------------------------------------------------------------------


@pytest.fixture
async def registry() -> AsyncIterator[RegistryFake]:
    fake = await RegistryFake().start()
    yield fake
    await fake.stop()


async def test_republish_sends_only_products_ahead_of_the_registry(
    tmp_path: Path, time: FakeTime, registry: RegistryFake
) -> None:
    settings = make_settings(tmp_path, ord_registry_url=registry.url, ord_registry_backoff_seconds=0.001)
    app = await started(settings, time)
    async with app:
        assert app.publication is not None
        tenant = app.default_tenant()
        ahead, _ = await app.products.register(tenant, product_args("ahead"))
        current, _ = await app.products.register(tenant, product_args("current"))
        await app.products.register(tenant, product_args("never-published"))
        for product in (ahead, current):
            out = await app.publication.publish(tenant, product.id)
            assert (await finished(app, out.task)).status is TaskStatus.succeeded
        assert len(registry.accepted) == 2
        latest = await app.products.get(tenant, product_id=ahead.id)
        updated = await app.products.update(tenant, ahead.id, {"title": "Ahead 2"}, latest.revision)

        run = await run_job(app, time, "republish")
        assert run.result == {"queued": 1, "tasks": 1, "not_expressible": 0}
        [publish, *_] = await tasks_of(app, "publish-ord")
        assert (await finished(app, publish)).status is TaskStatus.succeeded
        assert len(registry.accepted) == 3 and f"{ahead.id}:{updated.revision}" in registry.accepted
        # Everything acknowledged now: the next run sends nothing.
        assert (await run_job(app, time, "republish")).result["queued"] == 0
        assert len(registry.requests) == 3


async def test_republish_is_off_without_a_registry(app: Application) -> None:
    s = sched(app)
    s.intervals["republish"] = 10
    assert "republish" not in s.enabled


# -- prune -------------------------------------------------------------------------------------


async def test_prune_removes_exactly_what_is_past_retention(app: Application, time: FakeTime) -> None:
    now = datetime.now(UTC)
    tenant = app.default_tenant()
    store = app.store

    async def finished_task(age: timedelta) -> str:
        at = now - age
        task = Task(
            id=os.urandom(8).hex(), tenant=tenant, kind="test-history", status=TaskStatus.queued,
            created_at=at, updated_at=at,
        )  # fmt: skip
        await store.create_task(task)
        claimed = await store.claim_task("test", 30, ["test-history"], now=at)
        assert claimed is not None
        assert await store.finish_task(task.id, "test", TaskStatus.succeeded, result={}, now=at)
        return task.id

    old_task = await finished_task(timedelta(days=8))
    young_task = await finished_task(timedelta(days=6))

    async def deleted(name: str, age: timedelta) -> str:
        product, _ = await app.products.register(tenant, product_args(name))
        clock = app.products.clock
        app.products.clock = lambda: now - age
        try:
            await app.products.delete(tenant, product.id)
        finally:
            app.products.clock = clock
        return product.id

    old_tombstone = await deleted("old", timedelta(days=33))
    young_tombstone = await deleted("young", timedelta(days=31))

    assert app.audit is not None
    audit_clock = app.audit.clock
    app.audit.clock = lambda: now - timedelta(days=366)
    await app.audit.record(AuditKind.config_loaded, tenant, actor="test")
    app.audit.clock = audit_clock
    events_before, _ = await store.list_audit(tenant, limit=100)

    run = await run_job(app, time, "prune")
    assert run.result == {"tasks": 1, "tombstones": 1, "audit_events": 1}
    with pytest.raises(NotFound):
        await store.get_task(tenant, old_task)
    await store.get_task(tenant, young_task)
    with pytest.raises(NotFound):
        await store.get_product(tenant, old_tombstone, include_deleted=True)
    assert (await store.get_product(tenant, young_tombstone, include_deleted=True)).deleted_at is not None
    events_after, _ = await store.list_audit(tenant, limit=100)
    assert len(events_after) == len(events_before) - 1


# -- vacuum ------------------------------------------------------------------------------------


async def test_vacuum_optimizes_and_reclaims_free_pages(app: Application, time: FakeTime) -> None:
    assert app.audit is not None
    for _ in range(300):  # ~2.4 MB of audit rows, then pruned: free pages
        await app.audit.record(AuditKind.config_loaded, "bulk", actor="test", detail={"pad": "x" * 8000})
    assert await app.store.prune_audit((datetime.now(UTC) + timedelta(days=1)).isoformat()) >= 300
    run = await run_job(app, time, "vacuum")
    result = run.result
    assert result["backend"] == "sqlite" and result["optimized"] is True
    assert result["vacuum"] == "vacuum" and result["free_pages_before"] >= 256 and result["free_pages_after"] == 0
    assert result["pages_after"] < result["pages_before"]
    assert result["wal_checkpoint"]["busy"] == 0
    again = (await run_job(app, time, "vacuum")).result
    assert again["vacuum"] == "none"  # not worthwhile now


async def test_every_job_has_a_task_kind(app: Application) -> None:
    assert app.tasks is not None
    for job in ("revalidate", "republish", "prune", "vacuum"):
        assert job_kind(job) in app.tasks.kinds
