"""Health of every component: get_server_status, the /health, /ready and /startup probes, and the
figures the metrics collector reads at scrape time.

The service is given each component it reports on when the application is built; it never
probes an application object for what might be there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from dataproduct_mcp import __version__
from dataproduct_mcp.domain.status import ComponentHealth, ServerStatus
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import Store
from dataproduct_mcp.services.checks import CheckResult
from dataproduct_mcp.services.publication import PublicationService
from dataproduct_mcp.services.scheduler import Scheduler
from dataproduct_mcp.services.streams import StreamService
from dataproduct_mcp.services.task_runner import TaskRunner
from dataproduct_mcp.services.tasks import TaskService
from dataproduct_mcp.services.validation import ReportCache

__all__ = ["HealthService", "Runtime"]

log = get_logger(__name__)

COUNTS_TIMEOUT_S = 5.0
# The ORD registry is external and optional: its outage queues publications, it does not make
# this process unready.
NOT_REQUIRED = frozenset({"registry"})


@dataclass
class Runtime:
    """What the running process knows about itself; the transports fill it in as they start."""

    transport: str = "in-process"
    http_url: str | None = None  # the HTTP side's base URL once it listens
    started: bool = False  # every start-up step, the HTTP side included, is done
    auth_enabled: bool = False  # bearer auth on the HTTP side (Streamable HTTP with a tokens file)
    startup_checks: list[CheckResult] = field(default_factory=list)
    started_monotonic: float = field(default_factory=time.monotonic)

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic


class HealthService:
    def __init__(
        self,
        *,
        runtime: Runtime,
        store: Store,
        cache: ReportCache,
        streams: StreamService,
        tasks: TaskService,
        task_runner: TaskRunner,
        publication: PublicationService,
        scheduler: Scheduler,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.cache = cache
        self.streams = streams
        self.tasks = tasks
        self.task_runner = task_runner
        self.publication = publication
        self.scheduler = scheduler
        self._counts: dict[str, Any] = {}  # database-backed gauges as of the last refresh_counts()

    async def components(self) -> dict[str, dict[str, Any]]:
        """{component: {status, detail}}; status is ok | degraded | down | disabled."""
        out: dict[str, dict[str, Any]] = {"database": await self._database()}
        stats = self.cache.stats()
        out["cache"] = {
            "status": "ok" if stats.max_bytes else "disabled",
            "detail": {
                "hits": stats.hits,
                "misses": stats.misses,
                "evictions": stats.evictions,
                "entries": stats.entries,
                "bytes": stats.bytes,
                "max_bytes": stats.max_bytes,
            },
        }
        # WebSocket streaming sessions: counters for the metrics endpoint (docs/streams.md).
        out["streams"] = {"status": "ok", "detail": self.streams.stats()}
        # ORD registry: circuit breaker state and outbox counts (docs/ord.md); "disabled" when unset.
        out["registry"] = await self.publication.status()
        runner = self.task_runner
        # Durable task workers: down once they stopped (shutting down), so /ready turns 503.
        out["tasks"] = {
            "status": "ok" if runner.started else "down",
            "detail": {
                "workers": runner.workers,
                "running": len(runner.running),
                "lease_seconds": runner.lease_seconds,
                "kinds": sorted(self.tasks.kinds),
            },
        }
        # Maintenance jobs: per job last run, next run, outcome, runs, failures (docs/operations.md).
        out["scheduler"] = await self.scheduler.status()
        return out

    async def _database(self) -> dict[str, Any]:
        try:
            await self.store.ping()
            version = await self.store.schema_version()
        except Exception as exc:  # health reports, it does not raise
            log.warning("database health check failed: %r", exc)
            return {"status": "down", "detail": {"backend": self.store.backend, "error": type(exc).__name__}}
        return {"status": "ok", "detail": {"backend": self.store.backend, "schema_version": version}}

    async def health(self) -> tuple[str, dict[str, dict[str, Any]]]:
        """The worst component status (ok < degraded < down; disabled counts as ok) and all components."""
        components = await self.components()
        statuses = {c["status"] for c in components.values()}
        worst = "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"
        return worst, components

    async def ready(self) -> bool:
        """Every required component is ok (or disabled)."""
        components = await self.components()
        return all(c["status"] in ("ok", "disabled") for name, c in components.items() if name not in NOT_REQUIRED)

    def startup(self) -> tuple[bool, list[dict[str, Any]]]:
        """The start-up checks in dependency order (config → data dir → database → workers → HTTP side)
        and whether all passed."""
        rt = self.runtime
        checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in rt.startup_checks]
        if rt.started:
            checks.append({"name": "http", "ok": True, "detail": rt.http_url or "listening"})
        return rt.started and all(c["ok"] for c in checks), checks

    async def status(self, tenant: str) -> ServerStatus:
        """get_server_status: version, runtime, every component, the caller's product and task counts."""
        components = {k: ComponentHealth.model_validate(v) for k, v in (await self.components()).items()}
        products: dict[str, int] = {}
        tasks: dict[str, dict[str, int]] = {}
        if components["database"].status == "ok":
            products = await self.store.count_products(tenant)
            tasks = await self.tasks.counts(tenant)
        return ServerStatus(
            name="dataproduct-mcp",
            version=__version__,
            transport=self.runtime.transport,
            tenant=tenant,
            uptime_s=round(self.runtime.uptime_s, 3),
            http_url=self.runtime.http_url,
            components=components,
            products=products,
            tasks=tasks,
        )

    # -- metrics ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain figures of every component for the metrics collector (sync: no I/O here; the
        database-backed counts are those of the last :meth:`refresh_counts`)."""
        stats = self.cache.stats()
        return {
            "cache": {
                "hits": stats.hits,
                "misses": stats.misses,
                "evictions": stats.evictions,
                "bytes": stats.bytes,
                "entries": stats.entries,
            },
            **self._counts,
            "streams": self.streams.stats(),
            "breaker": self.publication.breaker.snapshot(),
            "scheduler": self.scheduler.snapshot(),
        }

    async def refresh_counts(self) -> None:
        """Database-backed gauges (tasks, products), refreshed before a scrape."""
        counts: dict[str, Any] = {}
        try:
            with anyio.fail_after(COUNTS_TIMEOUT_S):
                counts["tasks"] = await self.tasks.counts()
                counts["products"] = await self.store.count_products()
        except Exception as exc:  # a scrape reports what it can
            log.warning("metrics: database counts unavailable: %r", exc)
        self._counts = counts
