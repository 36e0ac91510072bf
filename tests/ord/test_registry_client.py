"""The registry client against a real HTTP server on 127.0.0.1: retries, 4xx, timeouts, resets, breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from tests.ord.registry_fake import RegistryFake

from dataproduct_mcp.errors import RegistryRejected, RegistryUnavailable
from dataproduct_mcp.ord.breaker import BreakerState, CircuitBreaker
from dataproduct_mcp.ord.registry import RegistryClient

pytestmark = pytest.mark.anyio
BODY = b'{"openResourceDiscovery": "1.13"}'


@pytest.fixture
async def registry() -> AsyncIterator[RegistryFake]:
    fake = await RegistryFake().start()
    yield fake
    await fake.stop()


def client(fake: RegistryFake, *, threshold: int = 50, attempts: int = 4, read_timeout: float = 5.0) -> RegistryClient:
    breaker = CircuitBreaker("test", failure_threshold=threshold, reset_seconds=60)
    return RegistryClient(
        fake.url, breaker=breaker, token="s3cret", attempts=attempts, backoff_initial=0.001, backoff_max=0.01,
        read_timeout=read_timeout, trigger_url=fake.url.replace("/documents", "/trigger"),
    )  # fmt: skip


async def test_5xx_is_retried_with_the_same_key_until_accepted(registry: RegistryFake) -> None:
    registry.script = ["503", "500", "ok"]
    c = client(registry)
    with anyio.fail_after(10):
        delivery = await c.deliver(BODY, "p1:3")
    await c.aclose()
    assert delivery.tries == 3
    assert [r.key for r in registry.requests] == ["p1:3"] * 3
    assert registry.accepted == {"p1:3": 1}
    assert {r.authorization for r in registry.requests} == {"Bearer s3cret"}
    assert registry.triggers == 1  # the aggregator re-pull trigger, once after the delivery


async def test_408_429_resets_and_slow_bodies_are_retried(registry: RegistryFake) -> None:
    registry.script = ["408", "429", "reset", "slow"]
    c = client(registry, attempts=5)
    with anyio.fail_after(10):
        delivery = await c.deliver(BODY, "p1:4")
    await c.aclose()
    assert delivery.tries == 4
    assert registry.accepted == {"p1:4": 1}


async def test_4xx_is_rejected_at_once_and_never_retried(registry: RegistryFake) -> None:
    registry.script = ["400"]
    c = client(registry)
    with anyio.fail_after(10), pytest.raises(RegistryRejected) as info:
        await c.deliver(BODY, "p1:5")
    await c.aclose()
    assert info.value.code == "registry-rejected"
    assert info.value.context["http_status"] == 400
    assert len(registry.requests) == 1
    assert c.breaker.state is BreakerState.closed  # the registry answered: it is up


async def test_a_read_timeout_is_retried_then_unavailable(registry: RegistryFake) -> None:
    registry.default = "hang"
    c = client(registry, attempts=2, read_timeout=0.2)
    with anyio.fail_after(10), pytest.raises(RegistryUnavailable) as info:
        await c.deliver(BODY, "p1:6")
    await c.aclose()
    assert info.value.context["tries"] == 2
    assert len(registry.requests) == 2


async def test_breaker_opens_after_threshold_and_then_fails_fast_without_a_request(registry: RegistryFake) -> None:
    registry.default = "503"
    c = client(registry, threshold=3, attempts=10)
    with anyio.fail_after(10), pytest.raises(RegistryUnavailable):
        await c.deliver(BODY, "p1:7")
    assert len(registry.requests) == 3  # the third failure opened it: no further try
    assert c.breaker.state is BreakerState.open
    with pytest.raises(RegistryUnavailable):
        await c.deliver(BODY, "p1:8")  # refused before any I/O (latency: bench/bench_publish.py)
    assert len(registry.requests) == 3
    await c.aclose()


async def test_half_open_probe_success_closes_the_breaker(registry: RegistryFake) -> None:
    registry.script = ["503", "503"]
    clock = [0.0]
    breaker = CircuitBreaker("t", failure_threshold=2, reset_seconds=5, clock=lambda: clock[0])
    c = RegistryClient(registry.url, breaker=breaker, attempts=5, backoff_initial=0.001, backoff_max=0.01)
    with anyio.fail_after(10), pytest.raises(RegistryUnavailable):
        await c.deliver(BODY, "k:1")
    assert breaker.state is BreakerState.open
    clock[0] = 5.0
    assert breaker.state is BreakerState.half_open
    with anyio.fail_after(10):
        await c.deliver(BODY, "k:1")
    assert breaker.state is BreakerState.closed
    assert registry.accepted == {"k:1": 1}
    await c.aclose()
