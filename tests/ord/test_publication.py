"""Publication end to end: publish_to_ord through the MCP client, the durable outbox, the
publish-ord task and a real HTTP registry on 127.0.0.1 that fails on command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args
from tests.ord.registry_fake import RegistryFake

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings, load_settings
from dataproduct_mcp.domain.publication import OutboxStatus
from dataproduct_mcp.domain.tasks import TaskStatus
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
async def registry() -> AsyncIterator[RegistryFake]:
    fake = await RegistryFake().start()
    yield fake
    await fake.stop()


def pub_settings(tmp_path: Path, registry: RegistryFake, **extra: Any) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    options: dict[str, Any] = dict(
        data_dir=data, allowed_roots=[tmp_path], ord_registry_url=registry.url, ord_registry_token="tok",
        ord_registry_attempts=3, ord_registry_backoff_seconds=0.001, breaker_failure_threshold=3,
        breaker_reset_seconds=60, ord_outbox_sweep_seconds=0.05,
    )  # fmt: skip
    options.update(extra)
    return load_settings(**options)


def fast(app: Application) -> Application:
    """Task retries after a registry outage without the production back-off (seconds to a minute)."""
    assert app.task_runner is not None
    app.task_runner.retry_backoff = lambda attempt: 0.01
    app.task_runner.shutdown_grace = 0.2
    return app


@pytest.fixture
async def papp(tmp_path: Path, registry: RegistryFake) -> AsyncIterator[Application]:
    app = fast(Application.build(pub_settings(tmp_path, registry)))
    async with app:
        app.runtime.started = True
        yield app


@pytest.fixture(params=["legacy", "2026-07-28"])
async def pclient(request: pytest.FixtureRequest, papp: Application) -> AsyncIterator[Client]:
    async with Client(build_server(papp), mode=request.param) as c:
        yield c


async def register(client: Client, name: str) -> dict[str, Any]:
    return (await call_ok(client, "register_data_product", product_args(name)))["product"]


async def wait_task(app: Application, task_id: str, timeout: float = 20) -> Any:
    assert app.tasks is not None
    with anyio.fail_after(timeout):
        task = await app.tasks.wait(app.default_tenant(), task_id, timeout)
    assert task.finished, task
    return task


async def test_publish_returns_a_task_at_once_and_delivers_exactly_once(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    product = await register(pclient, "orders")
    out = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"]})
    key = f"{product['id']}:{product['revision']}"
    assert out["queued_total"] == 1 and out["queued"][0]["idempotency_key"] == key
    task = await wait_task(papp, out["task"]["id"])
    assert task.status is TaskStatus.succeeded, task.error
    assert registry.accepted == {key: 1}
    assert registry.requests[0].authorization == "Bearer tok"
    stored = await call_ok(pclient, "get_data_product", {"id": product["id"]})
    assert stored["status"] == "published"
    assert stored["last_publication"]["idempotency_key"] == key
    # Unchanged: nothing to send, no request.
    again = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"]})
    assert again["task"] is None and again["up_to_date"] == [product["id"]]
    everything = await call_ok(pclient, "publish_to_ord", {})
    assert everything["task"] is None
    assert len(registry.requests) == 1


async def test_each_revision_gets_its_own_key_and_is_delivered_once(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    a = await register(pclient, "a")
    b = await register(pclient, "b")
    first = await call_ok(pclient, "publish_to_ord", {"wait_seconds": 20})
    assert first["task"]["status"] == "succeeded" and first["queued_total"] == 2
    current = await call_ok(pclient, "get_data_product", {"id": a["id"]})
    await call_ok(
        pclient,
        "update_data_product",
        {"id": a["id"], "patch": {"title": "A2"}, "expected_revision": current["revision"]},
    )
    second = await call_ok(pclient, "publish_to_ord", {"wait_seconds": 20})
    assert second["queued_total"] == 1
    keys = list(registry.accepted)
    assert len(keys) == 3 and len(set(keys)) == 3
    assert all(n == 1 for n in registry.accepted.values())
    assert sum(k.startswith(a["id"]) for k in keys) == 2 and sum(k.startswith(b["id"]) for k in keys) == 1
    rows = await papp.store.list_outbox(papp.default_tenant())
    assert {r.status for r in rows} == {OutboxStatus.delivered}


async def test_a_4xx_is_registry_rejected_not_retried_and_the_row_says_why(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    product = await register(pclient, "bad")
    registry.script = ["422"]
    err = await call_err(pclient, "publish_to_ord", {"product_id": product["id"], "wait_seconds": 20})
    assert err["code"] == "registry-rejected"
    assert len(registry.requests) == 1
    [row] = await papp.store.list_outbox(papp.default_tenant())
    assert row.status is OutboxStatus.rejected and "422" in (row.last_error or "")
    # Asked again explicitly: the same revision is retried (the registry may have been fixed).
    out = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"], "wait_seconds": 20})
    assert out["task"]["status"] == "succeeded"
    assert registry.accepted == {row.idempotency_key: 1}


async def test_breaker_open_publish_returns_at_once_queued_and_wait_is_registry_unavailable(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    product = await register(pclient, "p")
    assert papp.publication is not None
    breaker = papp.publication.breaker
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    assert breaker.state.value == "open"
    outcome = await papp.publication.publish(papp.default_tenant(), product["id"])
    assert outcome.task is not None  # queued at once, no request made (latency: bench/bench_publish.py)
    err = await call_err(pclient, "publish_to_ord", {"product_id": product["id"], "wait_seconds": 5})
    assert err["code"] == "registry-unavailable" and err["task_id"] == outcome.task.id
    status = await call_ok(pclient, "get_server_status", {})
    assert status["components"]["registry"]["status"] == "degraded"
    assert status["components"]["registry"]["detail"]["breaker"]["state"] == "open"
    assert registry.requests == []
    # The registry comes back (reset time over): the queued work is delivered, once.
    breaker.reset_seconds = 0.01
    with anyio.fail_after(20):
        await registry.wait_for(lambda r: len(r.accepted) == 1)
    [row] = await papp.store.list_outbox(papp.default_tenant())
    with anyio.fail_after(20):
        while row.status is not OutboxStatus.delivered:
            await papp.tasks.wait(papp.default_tenant(), row.task_id, 1)  # type: ignore[union-attr,arg-type]
            [row] = await papp.store.list_outbox(papp.default_tenant())
    assert registry.accepted == {f"{product['id']}:{product['revision']}": 1}


async def backing_off(app: Application, task_id: str) -> Any:
    """The task once it is queued again after a failed delivery (with its retry time)."""
    with anyio.fail_after(20):
        while True:
            task = await app.tasks.wait(app.default_tenant(), task_id, 1)
            if task.status is TaskStatus.queued and task.retry_at is not None:
                return task


async def test_a_wait_that_cannot_see_the_delivery_is_registry_unavailable_at_once(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    """The breaker is half-open (it would let a call through) but the task backs off for 10 minutes:
    waiting up to 300 s cannot see the delivery, so the answer comes at once, and the work stays queued."""
    papp.task_runner.retry_backoff = lambda attempt: 600.0
    registry.default = "503"
    product = await register(pclient, "late")
    first = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"]})
    task = await backing_off(papp, first["task"]["id"])
    breaker = papp.publication.breaker
    assert breaker.state.value == "open"
    breaker.reset_seconds = 0.001
    assert breaker.state.value == "half-open" and breaker.would_allow()
    registry.default = "ok"  # the registry is back, but the task only tries again in 10 minutes
    with anyio.fail_after(60):  # far less than the 300 s the call may wait
        err = await call_err(pclient, "publish_to_ord", {"product_id": product["id"], "wait_seconds": 300})
    assert err["code"] == "registry-unavailable"
    assert err["task_id"] == task.id and err["retry_after"] > 300
    [row] = await papp.store.list_outbox(papp.default_tenant())
    assert row.status is OutboxStatus.pending and row.task_id == task.id  # still queued, not lost


async def test_a_wait_that_covers_the_back_off_sees_the_delivery(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    papp.task_runner.retry_backoff = lambda attempt: 0.5
    registry.script = ["503", "503", "503"]  # the first delivery's tries fail, then the registry answers
    product = await register(pclient, "soon")
    first = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"]})
    await backing_off(papp, first["task"]["id"])
    papp.publication.breaker.reset_seconds = 0.001
    out = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"], "wait_seconds": 30})
    assert out["task"]["id"] == first["task"]["id"] and out["task"]["status"] == "succeeded"
    assert registry.accepted == {f"{product['id']}:{product['revision']}": 1}


async def test_a_registry_failing_half_the_time_delivers_every_publication_exactly_once(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    registry.default = "flaky"
    ids = [(await register(pclient, f"p{i}"))["id"] for i in range(12)]
    out = await call_ok(pclient, "publish_to_ord", {})
    assert out["queued_total"] == 12
    with anyio.fail_after(30):
        await registry.wait_for(lambda r: len(r.accepted) == 12)
    await wait_task(papp, out["task"]["id"])
    assert sorted(k.split(":")[0] for k in registry.accepted) == sorted(ids)
    assert set(registry.accepted.values()) == {1}
    rows = await papp.store.list_outbox(papp.default_tenant())
    assert all(r.status is OutboxStatus.delivered for r in rows)


async def test_a_restart_mid_publication_resends_with_the_same_key_and_loses_nothing(
    tmp_path: Path, registry: RegistryFake
) -> None:
    settings = pub_settings(tmp_path, registry)
    registry.script = ["hang"]
    app = fast(Application.build(settings))
    async with app:
        async with Client(build_server(app)) as client:
            product = await register(client, "survivor")
            out = await call_ok(client, "publish_to_ord", {"product_id": product["id"]})
            with anyio.fail_after(10):
                await registry.wait_for(lambda r: len(r.requests) == 1)  # sent; the registry holds it
    # The application closed mid-request: the row is still pending, one attempt counted.
    key = f"{product['id']}:{product['revision']}"
    reopened = fast(Application.build(settings))
    async with reopened:
        with anyio.fail_after(20):
            await registry.wait_for(lambda r: key in r.accepted)
        task = await wait_task(reopened, out["task"]["id"])
        assert task.status is TaskStatus.succeeded
        [row] = await reopened.store.list_outbox(reopened.default_tenant())
        assert row.status is OutboxStatus.delivered and row.attempts == 2
    assert [r.key for r in registry.requests] == [key, key]
    assert registry.accepted == {key: 1}


async def test_without_a_registry_publish_is_invalid_argument(client: Client) -> None:
    product = await register(client, "x")
    err = await call_err(client, "publish_to_ord", {"product_id": product["id"]})
    assert err["code"] == "invalid-argument"
    status = await call_ok(client, "get_server_status", {})
    assert status["components"]["registry"]["status"] == "disabled"


async def test_publication_and_breaker_transitions_are_audited_and_counted(
    pclient: Client, papp: Application, registry: RegistryFake
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    product = await register(pclient, "audited")
    out = await call_ok(pclient, "publish_to_ord", {"product_id": product["id"]})
    task = await wait_task(papp, out["task"]["id"])
    assert task.status is TaskStatus.succeeded
    events = (await call_ok(pclient, "list_audit_events", {"kinds": ["product-published"]}))["events"]
    assert [(e["product_id"], e["actor"], e["detail"]["idempotency_key"]) for e in events] == [
        (product["id"], "publisher", f"{product['id']}:{product['revision']}")
    ]
    assert papp.publication is not None and papp.audit is not None
    breaker = papp.publication.breaker
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    await papp.audit.flush()
    moved, _ = await papp.audit.list("_system", kinds=None)
    transitions = [e.detail for e in moved if e.kind.value == "breaker-transition"]
    assert transitions == [{"breaker": "ord-registry", "from": "closed", "to": "open"}]
    await papp.health.refresh_counts()
    assert papp.metrics is not None
    families = {f.name: f for f in text_string_to_metric_families(papp.metrics.render().decode())}
    assert [s.value for s in families["dpmcp_breaker_state"].samples] == [2]
    to_open = [s for s in families["dpmcp_breaker_transitions"].samples if s.name.endswith("_total")]
    assert [(s.labels["to"], s.value) for s in to_open] == [("open", 1)]
