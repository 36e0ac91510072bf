"""The task queue on both backends (a real SQLite file, a real PostgreSQL schema): exclusive claims
across stores, leases, owner guards, pruning."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.persistence.base import Store

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_task(kind: str = "noop", tenant: str = "local", **extra: object) -> Task:
    return Task(
        id=str(uuid.uuid4()),
        tenant=tenant,
        kind=kind,
        status=TaskStatus.queued,
        params={"n": 1},
        created_at=T0,
        updated_at=T0,
        trace_id="a" * 32,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def store(make_store: Callable[[], Store]):  # type: ignore[no-untyped-def]
    s = make_store()
    await s.open()
    yield s
    await s.close()


async def test_a_created_task_is_read_back_only_by_its_tenant(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    got = await store.get_task("local", task.id)
    assert got.model_dump() == task.model_dump()
    with pytest.raises(NotFound):
        await store.get_task("other", task.id)
    with pytest.raises(NotFound):
        await store.request_cancel("other", task.id)


async def test_many_concurrent_claimers_on_two_stores_claim_each_task_once(make_store: Callable[[], Store]) -> None:
    stores = [make_store(), make_store()]
    for s in stores:
        await s.open()
    try:
        ids = []
        for _ in range(60):
            task = new_task()
            ids.append(task.id)
            await stores[0].create_task(task)
        claimed: list[tuple[str, str]] = []

        async def claimer(store: Store, owner: str) -> None:
            while (c := await store.claim_task(owner, 60, ["noop"], now=T0)) is not None:
                claimed.append((c.task.id, owner))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(claimer, stores[i % 2], f"w{i}")
        counts = Counter(task_id for task_id, _ in claimed)
        assert sorted(counts) == sorted(ids)
        assert set(counts.values()) == {1}
        assert len({owner for _, owner in claimed}) > 1  # really concurrent
    finally:
        for s in stores:
            await s.close()


async def test_claims_take_the_oldest_task_of_a_known_kind(store: Store) -> None:
    first, other_kind, second = new_task(), new_task("other"), new_task()
    for t in (first, other_kind, second):
        await store.create_task(t)
    a = await store.claim_task("w", 30, ["noop"], now=T0)
    b = await store.claim_task("w", 30, ["noop"], now=T0)
    assert a is not None and b is not None
    assert [a.task.id, b.task.id] == [first.id, second.id]
    assert a.task.status is TaskStatus.running and a.task.attempts == 1
    assert await store.claim_task("w", 30, ["noop"], now=T0) is None
    assert await store.claim_task("w", 30, [], now=T0) is None


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_can_no_longer_finish(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    assert await store.claim_task("dead", 10, ["noop"], now=T0) is not None
    assert await store.claim_task("alive", 10, ["noop"], now=T0 + timedelta(seconds=5)) is None
    again = await store.claim_task("alive", 10, ["noop"], now=T0 + timedelta(seconds=11))
    assert again is not None and again.task.id == task.id and again.task.attempts == 2
    assert await store.heartbeat(task.id, "dead", 10) is None
    assert not await store.update_progress(task.id, "dead", 0.5, "x")
    assert not await store.finish_task(task.id, "dead", TaskStatus.succeeded, result={"by": "dead"})
    assert await store.finish_task(task.id, "alive", TaskStatus.succeeded, result={"by": "alive"})
    assert not await store.finish_task(task.id, "alive", TaskStatus.failed)  # finished once
    done = await store.get_task("local", task.id)
    assert (done.status, done.result, done.progress) == (TaskStatus.succeeded, {"by": "alive"}, 1.0)


async def test_recover_expired_requeues_cancels_or_gives_up(store: Store) -> None:
    plain, cancelled, exhausted = new_task(), new_task(), new_task(max_crashes=1)
    for t in (plain, cancelled, exhausted):
        await store.create_task(t)
        assert await store.claim_task("dead", 10, ["noop"], now=T0) is not None
    await store.request_cancel("local", cancelled.id)
    assert await store.recover_expired(now=T0 + timedelta(seconds=5)) == 0
    assert await store.recover_expired(now=T0 + timedelta(seconds=11)) == 1
    statuses = {t: (await store.get_task("local", t)).status for t in (plain.id, cancelled.id, exhausted.id)}
    assert statuses == {
        plain.id: TaskStatus.queued,
        cancelled.id: TaskStatus.cancelled,
        exhausted.id: TaskStatus.failed,
    }
    assert (await store.get_task("local", exhausted.id)).error["code"] == "internal"  # type: ignore[index]


async def test_expire_leases_of_a_dead_owner_makes_its_tasks_recoverable_at_once(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    await store.claim_task("host:1:dead", 3600, ["noop"])
    assert await store.lease_owners() == ["host:1:dead"]
    assert await store.expire_leases("host:1:dead") == 1
    assert await store.recover_expired() == 1
    assert (await store.get_task("local", task.id)).status is TaskStatus.queued


async def test_heartbeat_extends_the_lease_and_reports_a_cancel_request(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    await store.claim_task("w", 10, ["noop"], now=T0)
    assert await store.heartbeat(task.id, "w", 10, now=T0 + timedelta(seconds=8)) is False
    # The lease now ends at T0+18: not claimable at T0+15.
    assert await store.claim_task("x", 10, ["noop"], now=T0 + timedelta(seconds=15)) is None
    cancelled = await store.request_cancel("local", task.id)
    assert cancelled.status is TaskStatus.running and cancelled.cancel_requested
    assert await store.heartbeat(task.id, "w", 10) is True


async def test_cancelling_a_queued_task_ends_it_at_once_and_it_is_never_claimed(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    cancelled = await store.request_cancel("local", task.id)
    assert cancelled.status is TaskStatus.cancelled and cancelled.finished_at is not None
    assert await store.claim_task("w", 10, ["noop"]) is None
    assert (await store.request_cancel("local", task.id)).status is TaskStatus.cancelled  # idempotent


async def test_release_puts_running_tasks_back_without_counting_the_attempt(store: Store) -> None:
    a, b = new_task(), new_task()
    for t in (a, b):
        await store.create_task(t)
        await store.claim_task("w", 60, ["noop"])
    assert await store.release_tasks("w", [a.id]) == 1
    assert await store.release_tasks("other") == 0
    assert await store.release_tasks("w") == 1
    for t in (a, b):
        got = await store.get_task("local", t.id)
        assert (got.status, got.attempts) == (TaskStatus.queued, 0)


async def test_a_retry_waits_for_its_back_off(store: Store) -> None:
    task = new_task()
    await store.create_task(task)
    await store.claim_task("w", 60, ["noop"], now=T0)
    assert await store.retry_task(task.id, "w", {"code": "registry-unavailable"}, T0 + timedelta(seconds=30), now=T0)
    assert await store.claim_task("w", 60, ["noop"], now=T0 + timedelta(seconds=29)) is None
    again = await store.claim_task("w", 60, ["noop"], now=T0 + timedelta(seconds=31))
    assert again is not None and again.task.attempts == 2


async def test_prune_deletes_only_finished_tasks_older_than_the_retention(store: Store) -> None:
    old, recent, queued = new_task(), new_task(), new_task()
    for t in (old, recent):
        await store.create_task(t)
    await store.claim_task("w", 60, ["noop"], now=T0)
    await store.finish_task(old.id, "w", TaskStatus.succeeded, now=T0)
    await store.claim_task("w", 60, ["noop"], now=T0)
    await store.finish_task(recent.id, "w", TaskStatus.failed, now=T0 + timedelta(days=6))
    await store.create_task(queued)
    assert await store.prune_tasks(T0 + timedelta(days=1), batch=1) == 1
    with pytest.raises(NotFound):
        await store.get_task("local", old.id)
    assert {t.id for t in (await store.list_tasks("local", status=None, kind=None, limit=10, before=None)).items} == {
        recent.id,
        queued.id,
    }


async def test_listing_is_newest_first_paged_and_filtered(store: Store) -> None:
    tasks = [new_task("a" if i % 2 else "b") for i in range(7)]
    for t in tasks:
        await store.create_task(t)
    page = await store.list_tasks("local", status=None, kind=None, limit=3, before=None)
    assert [t.id for t in page.items] == [t.id for t in reversed(tasks)][:3] and page.total == 7
    rest = await store.list_tasks("local", status=None, kind=None, limit=10, before=page.next_after)
    assert [t.id for t in rest.items] == [t.id for t in reversed(tasks)][3:] and rest.next_after is None
    only_a = await store.list_tasks("local", status=TaskStatus.queued, kind="a", limit=10, before=None)
    assert only_a.total == 3 and {t.kind for t in only_a.items} == {"a"}
    assert (await store.list_tasks("other", status=None, kind=None, limit=10, before=None)).total == 0
    assert await store.count_tasks("local") == {"a": {"queued": 3}, "b": {"queued": 4}}
    assert await store.count_tasks("other") == {}


async def test_crashes_use_their_own_budget_not_the_retry_attempts(store: Store) -> None:
    """A task whose worker dies keeps resuming (kill -9 during a long validation, deploys) until
    max_crashes; its retry budget (max_attempts) is untouched by the crashes."""
    task = new_task(max_attempts=1, max_crashes=4)
    await store.create_task(task)
    at = T0
    for crash in range(1, 4):
        claim = await store.claim_task(f"dead-{crash}", 10, ["noop"], now=at)
        assert claim is not None and claim.task.id == task.id
        at += timedelta(seconds=11)  # the lease expires: the worker is gone
        assert await store.recover_expired(now=at) == 1
        back = await store.get_task("local", task.id)
        assert (back.status, back.crashes, back.attempts) == (TaskStatus.queued, crash, crash)
        assert not back.final_attempt  # crashed runs leave its one retryable attempt unused
    # Claimed straight from an expired lease (no recovery pass in between) also counts a crash.
    claim = await store.claim_task("dead-4", 10, ["noop"], now=at)
    assert claim is not None
    at += timedelta(seconds=11)
    taken = await store.claim_task("alive", 10, ["noop"], now=at)
    assert taken is not None and (taken.task.crashes, taken.task.attempts) == (4, 5)
    assert taken.task.final_attempt  # its one retryable attempt is this run
    # 4 crashes of 4 allowed: the runner does not run it, and once this lease expires too the
    # recovery pass fails it for good instead of queueing it again.
    at += timedelta(seconds=11)
    assert await store.recover_expired(now=at) == 0
    gone = await store.get_task("local", task.id)
    assert (gone.status, gone.crashes) == (TaskStatus.failed, 5)
    assert gone.error is not None and gone.error["code"] == "internal"
