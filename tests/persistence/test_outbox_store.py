"""The ORD outbox store on both backends: rows and their task in one unit of work, joining an active
task, never re-queuing a delivered revision, adopting orphans once, and concurrent enqueues of one
revision making one row."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import pytest

from dataproduct_mcp.domain.publication import OutboxStatus, idempotency_key
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.persistence.base import Store

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def publish_task(tenant: str = "local") -> Task:
    return Task(
        id=str(uuid.uuid4()), tenant=tenant, kind="publish-ord", status=TaskStatus.queued, created_at=T0,
        updated_at=T0,
    )  # fmt: skip


def item(product: str, revision: int = 1) -> tuple[str, int, str]:
    return product, revision, idempotency_key(product, revision)


@pytest.fixture
async def store(make_store: Callable[[], Store]):  # type: ignore[no-untyped-def]
    s = make_store()
    await s.open()
    yield s
    await s.close()


async def test_rows_join_an_active_task_and_a_delivered_revision_is_never_queued_again(store: Store) -> None:
    first = publish_task()
    out = await store.enqueue_publications("local", [item("a"), item("b")], first, now=T0)
    assert out.task_created and out.task_id == first.id and len(out.queued) == 2
    assert (await store.get_task("local", first.id)).kind == "publish-ord"
    again = await store.enqueue_publications("local", [item("a")], publish_task(), now=T0)
    assert not again.task_created and again.task_id == first.id  # joined the active task
    assert [r.idempotency_key for r in await store.outbox_for_task(first.id)] == ["a:1", "b:1"]
    await store.outbox_attempt("a:1", now=T0)
    await store.outbox_error("a:1", "503 from the registry", now=T0)
    assert await store.outbox_finish("a:1", OutboxStatus.delivered, now=T0)
    assert not await store.outbox_finish("a:1", OutboxStatus.delivered, now=T0)  # once
    assert await store.outbox_finish("b:1", OutboxStatus.rejected, error="422", now=T0)
    later = await store.enqueue_publications("local", [item("a"), item("b")], publish_task(), now=T0)
    assert not later.task_created and [r.idempotency_key for r in later.delivered] == ["a:1"]
    assert [r.idempotency_key for r in later.rejected] == ["b:1"]
    retried = await store.enqueue_publications("local", [item("b")], publish_task(), retry_rejected=True, now=T0)
    assert retried.task_created and [r.status for r in retried.queued] == [OutboxStatus.pending]
    assert await store.count_outbox("local") == {"delivered": 1, "pending": 1}
    assert await store.count_outbox("other") == {}
    rows = await store.list_outbox("local", product_id="a")
    assert [(r.attempts, r.last_error, r.status) for r in rows] == [
        (1, "503 from the registry", OutboxStatus.delivered)
    ]


async def test_orphans_are_adopted_by_one_new_task_per_tenant_once(store: Store) -> None:
    task = publish_task()
    await store.enqueue_publications("local", [item("a"), item("b")], task, now=T0)
    assert await store.adopt_orphaned_publications(publish_task, now=T0) == []  # its task is active
    claimed = await store.claim_task("w", 60, ["publish-ord"], now=T0)
    assert claimed is not None
    assert await store.finish_task(task.id, "w", TaskStatus.failed, error={"code": "internal"}, now=T0)
    adopted = await store.adopt_orphaned_publications(lambda tenant: publish_task(tenant), now=T0)
    assert [t.tenant for t in adopted] == ["local"]
    assert {r.idempotency_key for r in await store.outbox_for_task(adopted[0].id)} == {"a:1", "b:1"}
    assert await store.adopt_orphaned_publications(publish_task, now=T0) == []


async def test_concurrent_enqueues_of_one_revision_make_one_row_and_one_task(make_store: Callable[[], Store]) -> None:
    stores = [make_store() for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        results = []

        async def enqueue(i: int) -> None:
            results.append(await stores[i % 2].enqueue_publications("local", [item("x")], publish_task(), now=T0))

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(enqueue, i)
        assert sum(r.task_created for r in results) == 1
        assert len({r.task_id for r in results}) == 1
        assert await stores[0].count_outbox("local") == {"pending": 1}
        assert (await stores[0].count_tasks("local")) == {"publish-ord": {"queued": 1}}
    finally:
        for s in stores:
            await s.close()
