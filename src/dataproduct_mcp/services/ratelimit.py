"""Per-tenant rate limiting of tool calls (moving window, the ``limits`` library).

``limits`` (≈ 12 ms to import: it loads every storage backend) is imported only when a limit is
set (``DPMCP_RATE_LIMIT=off`` never loads it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dataproduct_mcp.errors import RateLimited

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import MovingWindowRateLimiter

__all__ = ["TenantRateLimiter"]


class TenantRateLimiter:
    """``check(tenant)`` raises ``rate-limited`` (with ``retry_after`` seconds) past the limit.
    In-memory per process: with several replicas each enforces the limit on its own share."""

    def __init__(self, spec: str) -> None:
        self.enabled = spec != "off"
        self._items: list[RateLimitItem] = []
        self._limiter: MovingWindowRateLimiter | None = None
        if self.enabled:
            from limits import parse_many
            from limits.storage import MemoryStorage
            from limits.strategies import MovingWindowRateLimiter

            self._items = parse_many(spec)
            self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, tenant: str) -> None:
        if self._limiter is None:
            return
        for item in self._items:
            if not self._limiter.hit(item, tenant):
                stats = self._limiter.get_window_stats(item, tenant)
                retry_after = max(0.0, stats.reset_time - time.time())
                raise RateLimited(
                    f"tenant {tenant!r} exceeded {item} tool calls",
                    retry_after=retry_after,
                    limit=str(item),
                )
