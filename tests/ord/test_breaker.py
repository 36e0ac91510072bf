"""The circuit breaker: closed -> open after N consecutive failures -> half-open after the reset
time (one probe) -> closed on success, open again on failure; transitions counted."""

from __future__ import annotations

from dataproduct_mcp.ord.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, Clock, list[tuple[str, str]]]:
    clock, seen = Clock(), []
    breaker = CircuitBreaker(
        "t", failure_threshold=threshold, reset_seconds=reset, clock=clock,
        on_transition=lambda a, b: seen.append((a.value, b.value)),
    )  # fmt: skip
    return breaker, clock, seen


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    breaker, _, seen = make(threshold=3)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.closed
    breaker.record_failure()
    assert breaker.state is BreakerState.open
    assert not breaker.allow()
    assert seen == [("closed", "open")]
    assert breaker.calls["rejected"] == 1


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker, _, _ = make(threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.closed


def test_half_open_after_reset_lets_one_probe_and_closes_on_success() -> None:
    breaker, clock, seen = make(threshold=1, reset=10)
    breaker.record_failure()
    clock.now += 9.9
    assert breaker.state is BreakerState.open and breaker.retry_after > 0
    clock.now += 0.1
    assert breaker.state is BreakerState.half_open
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_success()
    assert breaker.state is BreakerState.closed
    assert seen == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert breaker.snapshot()["transitions"] == {"closed->open": 1, "open->half-open": 1, "half-open->closed": 1}


def test_a_failed_probe_opens_the_breaker_again_for_a_full_reset_time() -> None:
    breaker, clock, seen = make(threshold=2, reset=5)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.open
    assert breaker.retry_after == 5
    assert seen[-1] == ("half-open", "open")


def test_a_released_probe_frees_the_half_open_slot() -> None:
    breaker, clock, _ = make(threshold=1, reset=1)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.would_allow() and breaker.allow()
