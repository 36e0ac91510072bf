"""Health of every component, for get_server_status and the /health probes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from dataproduct_mcp import __version__
from dataproduct_mcp.domain.status import ComponentHealth, ServerStatus
from dataproduct_mcp.logs import get_logger

if TYPE_CHECKING:
    from dataproduct_mcp.app import Application

log = get_logger(__name__)


async def component_health(app: Application) -> dict[str, dict[str, object]]:
    """{component: {status, detail}}; status is ok | degraded | down | disabled."""
    out: dict[str, dict[str, object]] = {}
    try:
        await app.store.ping()
        out["database"] = {
            "status": "ok",
            "detail": {"backend": app.store.backend, "schema_version": await app.store.schema_version()},
        }
    except Exception as exc:  # health reports, it does not raise
        log.warning("database health check failed: %r", exc)
        out["database"] = {
            "status": "down",
            "detail": {"backend": app.store.backend, "error": type(exc).__name__},
        }
    stats = app.validation.cache.stats()
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
    out["streams"] = {"status": "ok", "detail": app.streams.stats()}
    # ORD registry: circuit breaker state and outbox counts (docs/ord.md); "disabled" when unset.
    if app.publication is not None:
        out["registry"] = await app.publication.status()
    runner = app.task_runner
    if runner is not None:
        # Durable task workers: down once they stopped (shutting down), so /ready turns 503.
        out["tasks"] = {
            "status": "ok" if runner.started else "down",
            "detail": {
                "workers": runner.workers,
                "running": len(runner.running),
                "lease_seconds": runner.lease_seconds,
                "kinds": sorted(runner.service.kinds),
            },
        }
    scheduler = getattr(app, "scheduler", None)
    if scheduler is not None:
        # Maintenance jobs: per job last run, next run, outcome, runs, failures (docs/operations.md).
        out["scheduler"] = await scheduler.status()
    return out


async def server_status(app: Application, tenant: str) -> ServerStatus:
    components = {k: ComponentHealth.model_validate(v) for k, v in (await component_health(app)).items()}
    counts: dict[str, int] = {}
    task_counts: dict[str, dict[str, int]] = {}
    if components["database"].status == "ok":
        counts = await app.store.count_products(tenant)
        if app.tasks is not None:
            task_counts = await app.tasks.counts(tenant)
    return ServerStatus(
        name="dataproduct-mcp",
        version=__version__,
        transport=app.transport,
        tenant=tenant,
        uptime_s=round(app.uptime_s, 3),
        http_url=app.http_url,
        components=components,
        products=counts,
        tasks=task_counts,
    )


def metrics_snapshot(app: Application) -> dict[str, Any]:
    """Plain figures of every component for the metrics collector (sync: no I/O here;
    database-backed counts come from the last :func:`refresh_counts`)."""
    stats = app.validation.cache.stats()
    snap: dict[str, Any] = {
        "cache": {
            "hits": stats.hits,
            "misses": stats.misses,
            "evictions": stats.evictions,
            "bytes": stats.bytes,
            "entries": stats.entries,
        },
        **app.scraped_counts,
    }
    streams = getattr(app, "streams", None)
    if streams is not None:
        snap["streams"] = streams.stats()
    publication = getattr(app, "publication", None)
    if publication is not None:
        snap["breaker"] = publication.breaker.snapshot()
    scheduler = getattr(app, "scheduler", None)
    if scheduler is not None:
        snap["scheduler"] = scheduler.snapshot()
    return snap


async def refresh_counts(app: Application) -> None:
    """Database-backed gauges (tasks, products), refreshed before a scrape."""
    counts: dict[str, Any] = {}
    try:
        with anyio.fail_after(5):
            if getattr(app, "tasks", None) is not None:
                counts["tasks"] = await app.tasks.counts()  # type: ignore[union-attr]
            counts["products"] = await app.store.count_products()
    except Exception as exc:  # a scrape reports what it can
        log.warning("metrics: database counts unavailable: %r", exc)
    app.scraped_counts = counts
