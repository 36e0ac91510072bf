"""Maintenance job leases and upkeep on both backends: only the holder submits a run, a run is
submitted once however many stores ask at the same moment, an expired lease is taken over."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from tests.persistence.test_sqlite_store import make

from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.base import Store

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def run_task() -> Task:
    return Task(
        id=str(uuid.uuid4()), tenant="_system", kind="maintenance-prune", status=TaskStatus.queued,
        created_at=T0, updated_at=T0,
    )  # fmt: skip


async def test_one_run_per_interval_whoever_asks_and_expired_leases_move(make_store: Callable[[], Store]) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:

        async def claim(i: int, at: datetime) -> Any:
            return await stores[i].claim_job("prune", f"o{i}", interval_s=10, lease_s=30, make_task=run_task, now=at)

        first = await claim(0, T0)
        assert first.held and first.task is None and first.state.next_run_at == T0 + timedelta(seconds=10)
        assert not (await claim(1, T0 + timedelta(seconds=1))).held
        due = T0 + timedelta(seconds=10)
        results: list[Any] = []

        async def ask(i: int) -> None:
            results.append(await claim(i % 3, due))

        async with anyio.create_task_group() as tg:
            for i in range(9):
                tg.start_soon(ask, i)
        runs = [r.task for r in results if r.task is not None]
        assert len(runs) == 1  # one run, submitted by the holder
        state = (await stores[2].list_jobs())[0]
        assert (state.owner, state.runs, state.last_outcome, state.last_task_id) == ("o0", 1, "running", runs[0].id)
        assert await stores[1].finish_job_run("prune", runs[0].id, "succeeded")
        assert not await stores[1].finish_job_run("prune", runs[0].id, "failed")  # recorded once
        taken = await claim(1, due + timedelta(seconds=31))  # o0 went away: its lease expired
        assert taken.held and taken.state.owner == "o1" and taken.task is not None
        assert await stores[0].release_jobs("o1") == 1
        assert (await claim(2, due + timedelta(seconds=32))).held
    finally:
        for s in stores:
            await s.close()


async def test_a_run_whose_task_vanished_is_reconciled_as_lost(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        await store.claim_job("prune", "o", interval_s=10, lease_s=30, make_task=run_task, now=T0)
        claim = await store.claim_job(
            "prune", "o", interval_s=10, lease_s=30, make_task=run_task, now=T0 + timedelta(seconds=10)
        )
        assert claim.task is not None
        assert await store.prune_tasks(T0 + timedelta(days=1)) == 0  # still queued: kept
        running = await store.claim_task("w", 60, ["maintenance-prune"], now=T0)
        assert running is not None and running.task.id == claim.task.id
        assert await store.finish_task(claim.task.id, "w", TaskStatus.succeeded, now=T0)
        assert await store.prune_tasks(T0 + timedelta(days=1)) == 1  # gone before its outcome was recorded
        got = await store.claim_job(
            "prune", "o", interval_s=10, lease_s=30, make_task=run_task, now=T0 + timedelta(seconds=11)
        )
        assert (got.state.last_outcome, got.state.failures) == ("lost", 1)
    finally:
        await store.close()


async def test_tombstones_past_retention_are_pruned_and_upkeep_reports(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        gone, digest = make("gone", tenant="acme")
        await store.insert_product(gone, digest)
        deleted = gone.model_copy(update={"revision": 2, "deleted_at": T0, "updated_at": T0})
        await store.replace_product(deleted, 1, digest)
        kept, digest2 = make("kept", tenant="beta")
        await store.insert_product(kept, digest2)
        assert await store.product_tenants() == ["acme", "beta"]
        assert await store.prune_tombstones((T0 - timedelta(days=1)).isoformat()) == 0
        assert await store.prune_tombstones((T0 + timedelta(days=1)).isoformat()) == 1
        with pytest.raises(NotFound):
            await store.get_product("acme", gone.id, include_deleted=True)
        report = await store.maintenance()
        assert report["backend"] == store.backend
    finally:
        await store.close()
