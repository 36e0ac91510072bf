"""The process-level application object: built once at start, closed at shutdown.

It owns everything durable (settings, the store, services). MCP sessions come and go
(under stdio the SDK's lifespan runs per connection); the application outlives them.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio

from dataproduct_mcp import __version__
from dataproduct_mcp.config import Settings
from dataproduct_mcp.domain.audit import AuditKind
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.metrics import Metrics
from dataproduct_mcp.persistence import Store, open_store
from dataproduct_mcp.services.audit import SYSTEM_TENANT, AuditLog
from dataproduct_mcp.services.checks import CheckResult, StartupFailed, data_dir_check
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.services.maintenance import MaintenanceJobs
from dataproduct_mcp.services.ord import OrdService
from dataproduct_mcp.services.products import ProductService
from dataproduct_mcp.services.publication import PublicationService, build_ord_services
from dataproduct_mcp.services.ratelimit import TenantRateLimiter
from dataproduct_mcp.services.scheduler import Scheduler
from dataproduct_mcp.services.status import metrics_snapshot
from dataproduct_mcp.services.streams import StreamLimits, StreamService
from dataproduct_mcp.services.task_kinds import register_validation_kinds
from dataproduct_mcp.services.task_runner import TaskRunner
from dataproduct_mcp.services.tasks import TaskService
from dataproduct_mcp.services.validation import ReportCache, ValidationService

__all__ = ["Application"]

log = get_logger(__name__)

STARTUP_DB_TIMEOUT_S = 30.0


@dataclass
class Application:
    settings: Settings
    store: Store
    products: ProductService
    validation: ValidationService
    streams: StreamService
    started_monotonic: float = field(default_factory=time.monotonic)
    transport: str = "in-process"
    http_url: str | None = None
    started: bool = False
    rate_limiter: TenantRateLimiter | None = None
    startup_checks: list[CheckResult] = field(default_factory=list)
    auth_enabled: bool = False  # bearer auth on the HTTP side (set by serve_http)
    tasks: TaskService | None = None
    metrics: Metrics | None = None
    audit: AuditLog | None = None
    scraped_counts: dict[str, Any] = field(default_factory=dict)
    task_runner: TaskRunner | None = None
    ord: OrdService | None = None
    publication: PublicationService | None = None
    scheduler: Scheduler | None = None
    _open: bool = False
    _background: AsyncExitStack | None = None

    @classmethod
    def build(cls, settings: Settings) -> Application:
        store = open_store(settings)
        # Replicas on one PostgreSQL share the URL, so a cursor from one replica pages on another.
        where = settings.database_url if settings.backend == "postgresql" else settings.sqlite_path
        secret = hashlib.sha256(f"dpmcp-cursor:{where}:{settings.ord_namespace}".encode()).digest()
        products = ProductService(
            store,
            namespace=settings.ord_namespace,
            cursor_secret=secret,
            max_result_bytes=settings.max_result_bytes,
        )
        validation = ValidationService(
            PathPolicy(settings.effective_allowed_roots),
            ReportCache(settings.cache_max_bytes),
            max_result_bytes=settings.max_result_bytes,
            time_budget_s=settings.validation_time_budget_seconds,
        )
        streams = StreamService(
            PathPolicy(settings.effective_allowed_roots),
            products,
            StreamLimits(
                ttl_s=settings.stream_ttl_seconds,
                idle_s=settings.stream_idle_seconds,
                max_per_tenant=settings.stream_max_per_tenant,
                max_total=settings.stream_max_total,
                max_message_bytes=settings.stream_max_message_bytes,
            ),
        )
        app = cls(settings=settings, store=store, products=products, validation=validation, streams=streams)
        app.tasks = TaskService(store, cursor_secret=secret, max_result_bytes=settings.max_result_bytes)
        app.task_runner = TaskRunner(
            app.tasks,
            workers=settings.task_workers,
            lease_seconds=settings.task_lease_seconds,
            retention_days=settings.task_retention_days,
        )
        register_validation_kinds(app.tasks, products, lambda: app.validation)
        app.ord, app.publication = build_ord_services(settings, store, app.tasks, app.ord_base_url)
        app.rate_limiter = TenantRateLimiter(settings.rate_limit)
        app.audit = AuditLog(store, cursor_secret=secret, retention_days=settings.audit_retention_days)
        products.audit = app.audit
        if app.publication is not None:
            app.publication.audit = app.audit
            audit = app.audit

            def breaker_moved(before: Any, to: Any) -> None:
                audit.record_soon(
                    AuditKind.breaker_transition,
                    SYSTEM_TENANT,
                    actor="server",
                    detail={"breaker": "ord-registry", "from": str(before.value), "to": str(to.value)},
                )

            app.publication.breaker.on_transition = breaker_moved
        app.scheduler = build_scheduler(app)
        app.metrics = Metrics(lambda: metrics_snapshot(app))
        validation.observer = app.metrics.observe_report
        return app

    async def start(self) -> None:
        """Start in dependency order, recording each check (served on /startup): configuration →
        data dir writable → database and migrations → workers. A failed required check raises
        :class:`StartupFailed` (the CLI prints it and exits 1)."""
        checks = self.startup_checks = [CheckResult("config", True, "valid")]
        if self.store.backend == "sqlite":
            checks.append(data_dir_check(self.settings))
            if not checks[-1].ok:
                raise StartupFailed(checks)
        try:
            with anyio.fail_after(STARTUP_DB_TIMEOUT_S):
                await self.store.open()
            checks.append(
                CheckResult("database", True, f"{self.store.backend}, schema {await self.store.schema_version()}")
            )
        except Exception as exc:
            checks.append(CheckResult("database", False, f"{type(exc).__name__}: {exc}"[:300]))
            with anyio.CancelScope(shield=True):
                await self.store.close()
            raise StartupFailed(checks) from exc
        self._open = True
        await self.streams.start()  # the session reaper
        if self.task_runner is not None:
            # Durable tasks: recover what a crash left, then run workers in a task group this object
            # owns (entered here, exited in close(); both must run in the same task).
            await self.task_runner.recover()
            self._background = AsyncExitStack()
            tg = await self._background.enter_async_context(anyio.create_task_group())
            await tg.start(self.task_runner.run)
            if self.publication is not None:
                await tg.start(self.publication.run)  # re-queues orphaned ORD outbox rows
            if self.audit is not None:
                await tg.start(self.audit.run_flusher)  # stores events recorded from sync code
            if self.scheduler is not None:
                await tg.start(self.scheduler.run)  # maintenance jobs (docs/operations.md)
        checks.append(CheckResult("workers", True, "task workers, publisher and audit flusher running"))
        if self.audit is not None:
            await self.audit.record(
                AuditKind.config_loaded, SYSTEM_TENANT, actor="server", detail=self.settings_summary()
            )
        log.info(
            "dataproduct-mcp %s started (backend=%s, namespace=%s)",
            __version__,
            self.store.backend,
            self.settings.ord_namespace,
        )

    async def close(self) -> None:
        if self._open:
            self._open = False
            with anyio.CancelScope(shield=True):
                await self.streams.aclose()  # every stream session ends (clients get close code 1001)
            if self._background is not None:
                assert self.task_runner is not None
                # Stop claiming; running tasks stop at a checkpoint within the grace period and their
                # leases go back to the queue. (No scope may wrap this: the group must exit LIFO.)
                self.task_runner.stop()
                if self.publication is not None:
                    self.publication.stop()
                if self.audit is not None:
                    self.audit.stop()
                if self.scheduler is not None:
                    self.scheduler.stop()
                background, self._background = self._background, None
                await background.aclose()
                if self.scheduler is not None:
                    with anyio.CancelScope(shield=True):
                        await self.scheduler.aclose()  # another replica takes the jobs over at once
            if self.publication is not None:
                with anyio.CancelScope(shield=True):
                    await self.publication.aclose()  # the registry client's connections
            if self.audit is not None:
                with anyio.CancelScope(shield=True):
                    await self.audit.flush()  # events recorded from sync code since the last flush
            await self.store.close()
            log.info("dataproduct-mcp stopped")

    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def submit_validation_task(self, tenant: str, params: dict[str, Any]) -> dict[str, Any]:
        """Queue a background validation (durable task); the task's result will be the report."""
        tasks = getattr(self, "tasks", None)
        if tasks is None:
            from dataproduct_mcp.errors import InvalidArgument

            raise InvalidArgument(
                "background validation needs the task queue, which is not available in this build",
                field="background",
                suggestion="Call validate_file without background.",
            )
        # Check the path and options now, so a bad request fails at once rather than in the task.
        self.validation.options(
            format=params.get("format"), schema=params.get("schema"), max_errors=params.get("max_errors", 100)
        )
        self.validation.policy.identify(params["path"])
        task = await tasks.submit(tenant, "validate-file", params)
        return task.model_dump(mode="json")

    def settings_summary(self) -> dict[str, Any]:
        """The effective settings with secrets redacted (for the audit trail)."""
        secret = {"ord_registry_token", "sentry_dsn", "database_url", "request_state_keys"}
        out: dict[str, Any] = {}
        for name, value in self.settings.model_dump(mode="json").items():
            out[name] = "<redacted>" if name in secret and value else value
        out["version"] = __version__
        out["transport"] = self.transport
        return out

    def ord_base_url(self) -> str:
        """Base URL in ORD documents: DPMCP_ORD_BASE_URL, else the HTTP side's URL (ORD's baseUrl
        pattern refuses ``localhost``, so it becomes 127.0.0.1)."""
        url = self.settings.ord_base_url or self.http_url
        if url is None:
            host = self.settings.http_host
            url = f"http://{host}:{self.settings.http_port or 8765}"
        return url.rstrip("/").replace("://localhost", "://127.0.0.1")

    def default_tenant(self) -> str:
        return self.settings.tenant


def build_scheduler(app: Application) -> Scheduler:
    """Maintenance jobs on the DPMCP_SCHEDULE_* intervals; runs are tasks of the DPMCP_TENANT tenant."""
    assert app.tasks is not None
    settings = app.settings
    jobs = MaintenanceJobs(
        app.store,
        app.tasks,
        app.validation.policy,
        publication=app.publication,
        audit=app.audit,
        task_retention_days=settings.task_retention_days,
    )
    intervals = {
        "revalidate": settings.schedule_revalidate_seconds,
        "republish": settings.schedule_republish_seconds,
        "prune": settings.schedule_prune_seconds,
        "vacuum": settings.schedule_vacuum_seconds,
    }
    return Scheduler(app.store, app.tasks, jobs, intervals, tenant=settings.tenant)
