"""The process-level application object: built once at start, closed at shutdown.

It owns everything durable (settings, the store, services). MCP sessions come and go
(under stdio the SDK's lifespan runs per connection); the application outlives them.

:meth:`Application.build` is the one place where the parts are composed: each service gets
what it depends on through its constructor, in dependency order, and every field of the
application is set there (none is optional). The transports fill in :class:`Runtime`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio

from dataproduct_mcp import __version__
from dataproduct_mcp.config import ConfigError, Settings
from dataproduct_mcp.domain.audit import AuditKind
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.metrics import Metrics
from dataproduct_mcp.ord.breaker import BreakerState, CircuitBreaker
from dataproduct_mcp.ord.registry import RegistryClient
from dataproduct_mcp.persistence import Store, open_store
from dataproduct_mcp.services.audit import SYSTEM_TENANT, AuditLog
from dataproduct_mcp.services.checks import CheckResult, StartupFailed, data_dir_check
from dataproduct_mcp.services.contracts import ContractService
from dataproduct_mcp.services.dataviews import DataViewService
from dataproduct_mcp.services.files import PathPolicy, storage_from
from dataproduct_mcp.services.health import HealthService, Runtime
from dataproduct_mcp.services.lineage import LineageService
from dataproduct_mcp.services.maintenance import MaintenanceJobs
from dataproduct_mcp.services.ord import OrdService
from dataproduct_mcp.services.paging import CursorKey
from dataproduct_mcp.services.products import ProductService
from dataproduct_mcp.services.publication import PublicationService
from dataproduct_mcp.services.ratelimit import TenantRateLimiter
from dataproduct_mcp.services.scheduler import Scheduler
from dataproduct_mcp.services.streams import StreamLimits, StreamService
from dataproduct_mcp.services.task_kinds import register_validation_kinds
from dataproduct_mcp.services.task_runner import TaskRunner
from dataproduct_mcp.services.tasks import TaskService
from dataproduct_mcp.services.validation import ReportCache, ValidationService

__all__ = ["Application", "public_base_url"]

log = get_logger(__name__)

STARTUP_DB_TIMEOUT_S = 30.0
SECRET_SETTINGS = frozenset(
    {
        "ord_registry_token",
        "sentry_dsn",
        "database_url",
        "request_state_keys",
        "cursor_secret",
        "s3_secret_access_key",
        "s3_session_token",
    }
)


def public_base_url(settings: Settings, runtime: Runtime) -> str:
    """Base URL in ORD documents: DPMCP_ORD_BASE_URL, else the HTTP side's URL (ORD's baseUrl
    pattern refuses ``localhost``, so it becomes 127.0.0.1)."""
    url = settings.ord_base_url or runtime.http_url
    if url is None:
        url = f"http://{settings.http_host}:{settings.http_port or 8765}"
    return url.rstrip("/").replace("://localhost", "://127.0.0.1")


@dataclass(slots=True)
class Application:
    settings: Settings
    runtime: Runtime
    store: Store
    cursor_key: CursorKey
    audit: AuditLog
    products: ProductService
    lineage: LineageService
    contracts: ContractService
    tasks: TaskService
    task_runner: TaskRunner
    validation: ValidationService
    dataviews: DataViewService
    streams: StreamService
    ord: OrdService
    publication: PublicationService
    scheduler: Scheduler
    rate_limiter: TenantRateLimiter
    metrics: Metrics
    health: HealthService
    _open: bool = field(default=False, repr=False)
    _background: AsyncExitStack | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> Application:
        """Compose every part from the settings (no I/O: :meth:`start` opens and starts them). A bad
        ``DPMCP_DC_MAPPINGS_FILE`` is a :class:`ConfigError` (one line per problem; the CLI exits 2)."""
        runtime = Runtime()
        store = open_store(settings)
        secret = settings.cursor_secret.get_secret_value().encode() if settings.cursor_secret else None
        cursor_key = CursorKey(secret)
        policy = PathPolicy(
            settings.effective_allowed_roots,
            prefixes=settings.allowed_uri_prefixes,
            storage=storage_from(settings),
            max_files=settings.source_max_files,
        )
        metrics = Metrics()
        audit = AuditLog(store, cursor_secret=cursor_key, retention_days=settings.audit_retention_days)
        products = ProductService(
            store,
            audit,
            policy,
            namespace=settings.ord_namespace,
            cursor_secret=cursor_key,
            max_result_bytes=settings.max_result_bytes,
        )
        lineage = LineageService(store, products, max_result_bytes=settings.max_result_bytes)
        contracts = ContractService(store, products, lineage, max_result_bytes=settings.max_result_bytes)
        tasks = TaskService(store, cursor_secret=cursor_key, max_result_bytes=settings.max_result_bytes)
        task_runner = TaskRunner(
            tasks,
            workers=settings.task_workers,
            lease_seconds=settings.task_lease_seconds,
            retention_days=settings.task_retention_days,
            observer=metrics.observe_task,
        )
        validation = ValidationService(
            policy,
            ReportCache(settings.cache_max_bytes),
            tasks,
            max_result_bytes=settings.max_result_bytes,
            time_budget_s=settings.validation_time_budget_seconds,
            parallel_files=settings.source_parallel_files,
            distinct_cap=settings.contract_distinct_cap,
            observer=metrics.observe_report,
        )
        register_validation_kinds(tasks, products, validation, contracts)
        dataviews = DataViewService(
            policy,
            max_result_bytes=settings.max_result_bytes,
            time_budget_s=settings.validation_time_budget_seconds,
        )
        streams = StreamService(
            policy,
            products,
            StreamLimits(
                ttl_s=settings.stream_ttl_seconds,
                idle_s=settings.stream_idle_seconds,
                max_per_tenant=settings.stream_max_per_tenant,
                max_total=settings.stream_max_total,
                max_message_bytes=settings.stream_max_message_bytes,
            ),
            http_url=lambda: runtime.http_url,
        )
        ord_service = OrdService(
            store,
            products,
            lineage,
            namespace=settings.ord_namespace,
            base_url=lambda: public_base_url(settings, runtime),
            max_result_bytes=settings.max_result_bytes,
            custom_mappings=_custom_mappings(settings),
        )
        publication = _publication(settings, store, ord_service, tasks, audit)
        jobs = MaintenanceJobs(
            store,
            tasks,
            policy,
            publication=publication,
            audit=audit,
            task_retention_days=settings.task_retention_days,
        )
        intervals = {
            "revalidate": settings.schedule_revalidate_seconds,
            "republish": settings.schedule_republish_seconds,
            "prune": settings.schedule_prune_seconds,
            "vacuum": settings.schedule_vacuum_seconds,
        }
        scheduler = Scheduler(store, tasks, jobs, intervals, tenant=settings.tenant)
        health = HealthService(
            runtime=runtime,
            store=store,
            cache=validation.cache,
            streams=streams,
            tasks=tasks,
            task_runner=task_runner,
            publication=publication,
            scheduler=scheduler,
        )
        metrics.watch(health.snapshot)
        return cls(
            settings=settings,
            runtime=runtime,
            store=store,
            cursor_key=cursor_key,
            audit=audit,
            products=products,
            lineage=lineage,
            contracts=contracts,
            tasks=tasks,
            task_runner=task_runner,
            validation=validation,
            dataviews=dataviews,
            streams=streams,
            ord=ord_service,
            publication=publication,
            scheduler=scheduler,
            rate_limiter=TenantRateLimiter(settings.rate_limit),
            metrics=metrics,
            health=health,
        )

    async def start(self) -> None:
        """Start in dependency order, recording each check (served on /startup): configuration →
        data dir writable → database and migrations → workers. A failed required check raises
        :class:`StartupFailed` (the CLI prints it and exits 1)."""
        checks = self.runtime.startup_checks = [CheckResult("config", True, "valid")]
        if self.store.backend == "sqlite":
            checks.append(data_dir_check(self.settings))
            if not checks[-1].ok:
                raise StartupFailed(checks)
        try:
            with anyio.fail_after(STARTUP_DB_TIMEOUT_S):
                await self.store.open()
                await self.cursor_key.load(self.store)
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
        # Durable tasks: recover what a crash left, then run the background loops in a task group
        # this object owns (entered here, exited in close(); both must run in the same task).
        await self.task_runner.recover()
        self._background = AsyncExitStack()
        tg = await self._background.enter_async_context(anyio.create_task_group())
        await tg.start(self.task_runner.run)
        await tg.start(self.publication.run)  # re-queues orphaned ORD outbox rows
        await tg.start(self.audit.run_flusher)  # stores events recorded from sync code
        await tg.start(self.scheduler.run)  # maintenance jobs (docs/operations.md)
        checks.append(CheckResult("workers", True, "task workers, publisher and audit flusher running"))
        await self.audit.record(AuditKind.config_loaded, SYSTEM_TENANT, actor="server", detail=self.settings_summary())
        log.info(
            "dataproduct-mcp %s started (backend=%s, namespace=%s)",
            __version__,
            self.store.backend,
            self.settings.ord_namespace,
        )

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        with anyio.CancelScope(shield=True):
            await self.streams.aclose()  # every stream session ends (clients get close code 1001)
        if self._background is not None:
            # Stop claiming; running tasks stop at a checkpoint within the grace period and their
            # leases go back to the queue. (No scope may wrap this: the group must exit LIFO.)
            self.task_runner.stop()
            self.publication.stop()
            self.audit.stop()
            self.scheduler.stop()
            background, self._background = self._background, None
            await background.aclose()
            with anyio.CancelScope(shield=True):
                await self.scheduler.aclose()  # another replica takes the jobs over at once
        with anyio.CancelScope(shield=True):
            await self.publication.aclose()  # the registry client's connections
            await self.audit.flush()  # events recorded from sync code since the last flush
        await self.store.close()
        log.info("dataproduct-mcp stopped")

    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def settings_summary(self) -> dict[str, Any]:
        """The effective settings with secrets redacted (for the audit trail)."""
        out: dict[str, Any] = {}
        for name, value in self.settings.model_dump(mode="json").items():
            out[name] = "<redacted>" if name in SECRET_SETTINGS and value else value
        out["version"] = __version__
        out["transport"] = self.runtime.transport
        return out

    def default_tenant(self) -> str:
        return self.settings.tenant


def _custom_mappings(settings: Settings) -> dict[str, str]:
    """DPMCP_DC_MAPPINGS_FILE (label key -> DCMI term); a bad file is a ConfigError."""
    if settings.dc_mappings_file is None:
        return {}
    from dataproduct_mcp.metadata import load_custom_mappings

    try:
        return load_custom_mappings(settings.dc_mappings_file)
    except ValueError as exc:
        text = str(exc)
        source = f"custom mappings file {str(settings.dc_mappings_file)!r}: "
        lines = text.removeprefix(source).split("; ") if text.startswith(source) else [text]
        name = f"DPMCP_DC_MAPPINGS_FILE={str(settings.dc_mappings_file)!r}"
        raise ConfigError([f"{name}: {line}" for line in lines]) from None


def _publication(
    settings: Settings, store: Store, ord_service: OrdService, tasks: TaskService, audit: AuditLog
) -> PublicationService:
    """The publisher: breaker (its transitions go to the audit trail), registry client, outbox."""

    def breaker_moved(before: BreakerState, to: BreakerState) -> None:
        audit.record_soon(
            AuditKind.breaker_transition,
            SYSTEM_TENANT,
            actor="server",
            detail={"breaker": "ord-registry", "from": before.value, "to": to.value},
        )

    breaker = CircuitBreaker(
        "ord-registry",
        failure_threshold=settings.breaker_failure_threshold,
        reset_seconds=settings.breaker_reset_seconds,
        on_transition=breaker_moved,
    )
    client = None
    if settings.ord_registry_url:
        client = RegistryClient(
            settings.ord_registry_url,
            breaker=breaker,
            token=settings.ord_registry_token,
            trigger_url=settings.ord_registry_trigger_url,
            connect_timeout=settings.ord_registry_connect_timeout_seconds,
            read_timeout=settings.ord_registry_read_timeout_seconds,
            attempts=settings.ord_registry_attempts,
            backoff_initial=settings.ord_registry_backoff_seconds,
        )
    return PublicationService(
        store,
        ord_service,
        tasks,
        audit,
        breaker=breaker,
        client=client,
        sweep_seconds=settings.ord_outbox_sweep_seconds,
    )
