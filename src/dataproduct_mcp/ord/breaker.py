"""A small circuit breaker for the ORD registry client (contract §8).

    closed ──(failure_threshold consecutive failures)──▶ open
    open ──(reset_seconds elapsed; the next caller is let through as a probe)──▶ half-open
    half-open ──(probe succeeds)──▶ closed          half-open ──(probe fails)──▶ open

Why not a library: the maintained asyncio breakers (purgatory, aiobreaker) keep their state behind
async storage calls or wrap the call itself; the publisher needs a synchronous, lock-free "may I
call?" check that answers in microseconds (publication must return in ≤ 5 ms while open), and a
state it can show in ``get_server_status``.  So this is deliberately tiny and fully tested.

Not thread-safe by design: it lives on one event loop.  Transitions are logged and counted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

from dataproduct_mcp.logs import get_logger

__all__ = ["BreakerState", "CircuitBreaker"]

log = get_logger(__name__)


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.on_transition = on_transition
        self._state = BreakerState.closed
        self._failures = 0  # consecutive
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.transitions: Counter[str] = Counter()  # "closed->open": n
        self.calls: Counter[str] = Counter()  # success / failure / rejected

    # -- reading ------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The state, moving open -> half-open once the reset time has passed."""
        if self._state is BreakerState.open and self.clock() - self._opened_at >= self.reset_seconds:
            self._transition(BreakerState.half_open)
        return self._state

    @property
    def retry_after(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self._state is not BreakerState.open:
            return 0.0
        return max(0.0, self.reset_seconds - (self.clock() - self._opened_at))

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "consecutive_failures": self._failures,
            "failure_threshold": self.failure_threshold,
            "reset_seconds": self.reset_seconds,
            "retry_after_s": round(self.retry_after, 3),
            "transitions": dict(self.transitions),
            "calls": dict(self.calls),
        }

    # -- using --------------------------------------------------------------------------------

    def allow(self) -> bool:
        """May a call go out now?  Closed: yes.  Open: no.  Half-open: only one probe at a time."""
        state = self.state
        if state is BreakerState.closed:
            return True
        if state is BreakerState.half_open and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        self.calls["rejected"] += 1
        return False

    def would_allow(self) -> bool:
        """Like :meth:`allow` but without taking the half-open probe slot."""
        state = self.state
        return state is BreakerState.closed or (state is BreakerState.half_open and not self._probe_in_flight)

    def record_success(self) -> None:
        self.calls["success"] += 1
        self._failures = 0
        self._probe_in_flight = False
        if self._state is not BreakerState.closed:
            self._transition(BreakerState.closed)

    def record_failure(self) -> None:
        self.calls["failure"] += 1
        self._failures += 1
        probe_failed = self._state is BreakerState.half_open
        self._probe_in_flight = False
        if probe_failed or (self._state is BreakerState.closed and self._failures >= self.failure_threshold):
            self._opened_at = self.clock()
            self._transition(BreakerState.open)
        elif self._state is BreakerState.open:
            self._opened_at = self.clock()  # a call that was already in flight failed: wait afresh

    def release(self) -> None:
        """A call that was let through ended without a verdict (cancelled): free the probe slot."""
        self._probe_in_flight = False

    def _transition(self, to: BreakerState) -> None:
        before, self._state = self._state, to
        self.transitions[f"{before.value}->{to.value}"] += 1
        level = log.warning if to is BreakerState.open else log.info
        level(
            "circuit breaker %s: %s -> %s (consecutive failures %d)", self.name, before.value, to.value, self._failures
        )
        if self.on_transition is not None:
            self.on_transition(before, to)
