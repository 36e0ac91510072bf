"""ORD publication (contract §8): outbox + ``publish-ord`` task + registry client.

Flow: ``publish`` writes one outbox row per product revision and the ``publish-ord`` task that
delivers them in ONE transaction and returns at once → a worker claims the task → for each of its
pending rows: build and check the one-product document, count the attempt, POST it with the row's
idempotency key (breaker → retries → httpx) → record ``last_publication`` on the product (status
``published``, optimistic concurrency with re-reads) → mark the row ``delivered``.

Guarantees: a crash anywhere leaves the row pending, and the next run re-sends it with the same key
(the registry deduplicates on ``Idempotency-Key``); a delivered row is never sent again; a row whose
task ended without delivering it (retries exhausted while the registry was down) is adopted by a new
task every ``DPMCP_ORD_OUTBOX_SWEEP_SECONDS`` once the breaker lets calls through again.

"Ahead of the registry": ``last_publication.recorded_revision`` is the product revision written
when the publication was recorded (or the published revision, if the product changed meanwhile);
a product whose revision is greater has changed since and needs publishing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus as AnyioTaskStatus

from dataproduct_mcp.context import current_trace_id
from dataproduct_mcp.domain.audit import AuditKind
from dataproduct_mcp.domain.ord import LIST_CAP
from dataproduct_mcp.domain.products import DataProduct, ProductStatus, content_hash
from dataproduct_mcp.domain.publication import (
    EnqueueResult,
    OutboxRow,
    OutboxStatus,
    PublicationRecord,
    PublishResult,
    idempotency_key,
)
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.errors import Conflict, InvalidArgument, NotFound, RegistryRejected, RegistryUnavailable
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.ord import validate_product_for_ord
from dataproduct_mcp.ord.breaker import CircuitBreaker
from dataproduct_mcp.ord.registry import RegistryClient
from dataproduct_mcp.persistence.base import ProductFilter, Store
from dataproduct_mcp.services.audit import AuditLog
from dataproduct_mcp.services.ord import TOMBSTONE_DAYS, OrdService
from dataproduct_mcp.services.tasks import TaskService

if TYPE_CHECKING:
    from dataproduct_mcp.services.task_runner import TaskContext

__all__ = ["KIND", "PublicationService", "PublishOutcome", "needs_publication"]

log = get_logger(__name__)

KIND = "publish-ord"
MAX_ATTEMPTS = 8  # task attempts (each with its own HTTP retries); then the sweeper adopts the rows


def needs_publication(product: DataProduct) -> bool:
    """Whether the product changed since the registry last acknowledged it."""
    last = product.last_publication
    return last is None or product.revision > last.recorded_revision


@dataclass
class PublishOutcome:
    enqueued: EnqueueResult
    task: Task | None
    up_to_date: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


class PublicationService:
    def __init__(
        self,
        store: Store,
        ord_service: OrdService,
        tasks: TaskService,
        audit: AuditLog,
        *,
        breaker: CircuitBreaker,
        client: RegistryClient | None,
        sweep_seconds: float = 30.0,
        clock: Any = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.ord = ord_service
        self.tasks = tasks
        self.breaker = breaker
        self.client = client
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self._scope: anyio.CancelScope | None = None
        self.audit = audit
        # Held back while the breaker refuses calls: workers would only claim and reschedule them.
        tasks.register_kind(
            KIND,
            self.handle,
            max_attempts=MAX_ATTEMPTS,
            ready=lambda: self.client is None or self.breaker.would_allow(),
        )

    @property
    def configured(self) -> bool:
        return self.client is not None

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # -- publish_to_ord -----------------------------------------------------------------------

    def _new_task(self, tenant: str, params: dict[str, Any]) -> Task:
        now = self.clock()
        return Task(
            id=str(uuid.uuid4()),
            tenant=tenant,
            kind=KIND,
            params=params,
            status=TaskStatus.queued,
            message="queued",
            max_attempts=self.tasks.kinds[KIND].max_attempts,
            trace_id=current_trace_id(),
            created_at=now,
            updated_at=now,
        )

    def _wake(self) -> None:
        for wake in self.tasks.on_submit:
            wake()

    def _require_registry(self) -> None:
        if self.client is None:
            raise InvalidArgument(
                "no ORD registry is configured, so there is nowhere to publish to",
                field=None,
                suggestion="Set DPMCP_ORD_REGISTRY_URL (and DPMCP_ORD_REGISTRY_TOKEN if it needs one) and restart; "
                "meanwhile aggregators can pull the Provider API at /.well-known/open-resource-discovery "
                "and get_ord_document shows the document.",
            )

    async def _candidates(self, tenant: str, republish: bool = False) -> list[DataProduct]:
        out: list[DataProduct] = []
        after: int | None = None
        while True:
            page = await self.store.list_products(tenant, ProductFilter(), 1000, after)
            out.extend(p for p in page.items if needs_publication(p) and (p.last_publication or not republish))
            if page.next_after is None:
                break
            after = page.next_after
        since = (self.clock() - timedelta(days=TOMBSTONE_DAYS + 1)).isoformat()
        # Deleted products the registry knew: their tombstone is the news.
        out.extend(p for p in await self.store.list_deleted(tenant, since) if p.last_publication)
        return out

    async def publish(self, tenant: str, product_id: str | None = None, *, republish: bool = False) -> PublishOutcome:
        """Queue the publication of one product, or of every product ahead of the registry
        (``republish``: only those the registry already knows — scheduled maintenance)."""
        self._require_registry()
        skipped: list[dict[str, Any]] = []
        up_to_date: list[str] = []
        if product_id is not None:
            product = await self.store.get_product(tenant, product_id)
            problems = validate_product_for_ord(product, namespace=self.ord.namespace)
            if problems:
                raise InvalidArgument(
                    f"data product {product.id} cannot be expressed in ORD: {problems[0].field}: {problems[0].problem}",
                    field=problems[0].field,
                    problems=[p.to_dict() for p in problems],
                    suggestion="Fix the named field with update_data_product, then publish again.",
                )
            candidates = [product] if needs_publication(product) else []
            if not candidates:
                up_to_date.append(product.id)
        else:
            candidates = []
            for product in await self._candidates(tenant, republish):
                problems = [] if product.deleted_at else validate_product_for_ord(product, namespace=self.ord.namespace)
                if problems:
                    skipped.append({"product_id": product.id, "problems": [p.to_dict() for p in problems]})
                else:
                    candidates.append(product)
        items = [(p.id, p.revision, idempotency_key(p.id, p.revision)) for p in candidates]
        task = self._new_task(tenant, {"products": len(items), "product_id": product_id})
        enqueued = await self.store.enqueue_publications(tenant, items, task, retry_rejected=product_id is not None)
        if enqueued.task_created:
            self._wake()
            log.info("queued %d publication(s) for tenant %s in task %s", len(enqueued.queued), tenant, task.id)
        current = task if enqueued.task_created else None
        if current is None and enqueued.task_id is not None:
            current = await self.tasks.get(tenant, enqueued.task_id)
        return PublishOutcome(enqueued=enqueued, task=current, up_to_date=up_to_date, skipped=skipped)

    async def publish_result(
        self,
        tenant: str,
        product_id: str | None = None,
        *,
        wait_seconds: float = 0.0,
        on_change: Callable[[Task], Awaitable[None]] | None = None,
    ) -> PublishResult:
        """``publish_to_ord``: queue (see :meth:`publish`), then wait up to ``wait_seconds`` for the
        delivery. A delivery that cannot happen within the wait (breaker open past it, the task
        backing off past it) is ``registry-unavailable`` at once — the work stays queued."""
        outcome = await self.publish(tenant, product_id)
        task = outcome.task
        if task is not None and wait_seconds > 0:
            task = await self._wait_for_delivery(tenant, task, wait_seconds, on_change)
        queued = [r.to_dict() for r in outcome.enqueued.queued]
        if task is None:
            message = "nothing to publish: every product is up to date with the registry"
        else:
            message = f"{len(queued)} revision(s) queued in task {task.id} ({task.status.value})"
        return PublishResult(
            task=task,
            queued_total=len(queued),
            queued=queued[:LIST_CAP],
            already_delivered=[r.idempotency_key for r in outcome.enqueued.delivered][:LIST_CAP],
            rejected=[r.to_dict() for r in outcome.enqueued.rejected][:LIST_CAP],
            up_to_date=outcome.up_to_date,
            skipped=outcome.skipped[:LIST_CAP],
            skipped_total=len(outcome.skipped),
            breaker=self.breaker.state.value,
            message=message,
        )

    def _undeliverable(self, task: Task, remaining: float) -> RegistryUnavailable | None:
        """Why ``task`` cannot deliver within ``remaining`` seconds, if it cannot: the breaker stays
        open past it, or the task is backing off (queued after a failure) until past it."""
        waits = [self.breaker.retry_after] if not self.breaker.would_allow() else []
        if task.status is TaskStatus.queued and task.retry_at is not None:
            waits.append((task.retry_at - self.clock()).total_seconds())
        delay = max(waits, default=0.0)
        if delay < remaining:
            return None
        why = (
            "the ORD registry circuit breaker is open"
            if self.breaker.retry_after >= delay
            else ("the last delivery failed and the next try is scheduled after the wait")
        )
        return RegistryUnavailable(f"{why}; the publication stays queued", task_id=task.id, retry_after=round(delay, 3))

    async def _wait_for_delivery(
        self, tenant: str, task: Task, wait_seconds: float, on_change: Callable[[Task], Awaitable[None]] | None
    ) -> Task:
        refusal = self._undeliverable(task, wait_seconds)
        if refusal is not None:
            raise refusal
        task = await self.tasks.wait(tenant, task.id, wait_seconds, on_change=on_change, give_up=self._undeliverable)
        error = task.error or {}
        if task.status is TaskStatus.failed and error.get("code") == "registry-rejected":
            raise RegistryRejected(error.get("message", "the registry rejected the publication"), task_id=task.id)
        if not task.finished and error.get("code") == "registry-unavailable":
            raise RegistryUnavailable(error.get("message", "the registry is unavailable"), task_id=task.id)
        return task

    # -- the publish-ord task -----------------------------------------------------------------

    async def handle(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = await self.store.outbox_for_task(ctx.task_id)
        delivered: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            ctx.checkpoint()
            ctx.report(i / max(1, len(rows)), f"publishing {row.product_id} revision {row.revision}")
            outcome = await self._deliver(ctx, row)
            (delivered if outcome["status"] == "delivered" else rejected).append(outcome)
        ctx.report(1.0, f"{len(delivered)} delivered, {len(rejected)} rejected")
        if rejected:
            raise RegistryRejected(
                f"{len(rejected)} of {len(rows)} publication(s) were rejected: {rejected[0]['reason']}",
                delivered=len(delivered),
                rejected=rejected[:20],
            )
        return {"delivered": delivered, "rejected": rejected, "total": len(rows)}

    async def _deliver(self, ctx: TaskContext, row: OutboxRow) -> dict[str, Any]:
        key = row.idempotency_key
        try:
            product = await self.store.get_product(row.tenant, row.product_id, include_deleted=True)
        except NotFound:
            await self.store.outbox_finish(key, OutboxStatus.rejected, error="the data product no longer exists")
            return {"idempotency_key": key, "status": "rejected", "reason": "the data product no longer exists"}
        body, build = await self.ord.publication_document(product)
        if build.skipped:
            reason = "; ".join(f"{p.field}: {p.problem}" for s in build.skipped for p in s.problems)[:1000]
            await self.store.outbox_finish(key, OutboxStatus.rejected, error=f"not expressible in ORD: {reason}")
            return {"idempotency_key": key, "status": "rejected", "reason": f"not expressible in ORD: {reason}"}
        if self.client is None:
            raise RegistryUnavailable("no ORD registry is configured (DPMCP_ORD_REGISTRY_URL); the rows stay queued")
        if not self.breaker.would_allow():
            raise RegistryUnavailable(
                "the ORD registry circuit breaker is open; the publication stays queued",
                retry_after=round(self.breaker.retry_after, 3),
            )
        await self.store.outbox_attempt(key)  # counted before sending: a crash after it re-sends the same key
        try:
            delivery = await self.client.deliver(body, key)
        except RegistryRejected as exc:
            await self.store.outbox_finish(key, OutboxStatus.rejected, error=exc.message)
            return {"idempotency_key": key, "status": "rejected", "reason": exc.message}
        except RegistryUnavailable as exc:
            await self.store.outbox_error(key, exc.message)
            raise
        with anyio.CancelScope(shield=True):  # acknowledged: record it even if we are being stopped
            if product.deleted_at is None:
                await self._record(row, product.revision, ctx.task_id)
            await self.store.outbox_finish(key, OutboxStatus.delivered)
        return {"idempotency_key": key, "status": "delivered", "http_status": delivery.status, "tries": delivery.tries}

    async def _record(self, row: OutboxRow, built_revision: int, task_id: str, attempts: int = 8) -> None:
        """``last_publication`` and status ``published`` on the product; idempotent per key."""
        for _ in range(attempts):
            try:
                current = await self.store.get_product(row.tenant, row.product_id)
            except NotFound:
                return  # deleted meanwhile: its tombstone is the next publication
            last = current.last_publication
            if last is not None and last.idempotency_key == row.idempotency_key:
                return
            recorded = current.revision + 1 if current.revision == built_revision else built_revision
            status = current.status
            if status in (ProductStatus.draft, ProductStatus.validated):
                status = ProductStatus.published
            now = self.clock()
            publication = PublicationRecord(
                idempotency_key=row.idempotency_key,
                revision=built_revision,
                recorded_revision=recorded,
                published_at=now,
                task_id=task_id,
                registry=self.client.url if self.client is not None else None,
            )
            product = current.model_copy(
                update={
                    "last_publication": publication,
                    "status": status,
                    "revision": current.revision + 1,
                    "updated_at": now,
                }
            )
            event = self.audit.event(
                AuditKind.product_published,
                row.tenant,
                actor="publisher",
                product_id=row.product_id,
                ord_id=current.ord_id,
                before_revision=current.revision,
                after_revision=product.revision,
                detail={"idempotency_key": row.idempotency_key, "published_revision": built_revision},
            )
            try:
                await self.store.replace_product(product, current.revision, content_hash(current.fields()), audit=event)
                self.audit.mirror(event)
                return
            except Conflict:
                log.info("product %s changed while recording its publication; re-reading", row.product_id)
        log.warning("could not record the publication of %s after %d conflicts", row.product_id, attempts)

    # -- the sweeper --------------------------------------------------------------------------

    async def sweep_once(self) -> list[Task]:
        """Give pending rows whose task ended (or vanished) a new task, if the registry may be called."""
        if self.client is None or not self.breaker.would_allow():
            return []
        created = await self.store.adopt_orphaned_publications(lambda tenant: self._new_task(tenant, {"adopted": True}))
        if created:
            log.info("re-queued orphaned publications in %d new task(s)", len(created))
            self._wake()
        return created

    async def run(self, *, task_status: AnyioTaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Sweep the outbox every ``sweep_seconds`` until :meth:`stop`."""
        with anyio.CancelScope() as self._scope:
            task_status.started()
            while True:
                try:
                    await self.sweep_once()
                except Exception:
                    log.exception("sweeping the ORD outbox failed; retrying later")
                await anyio.sleep(self.sweep_seconds)

    def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def status(self) -> dict[str, object]:
        """The ``registry`` component of health/status."""
        if self.client is None:
            return {"status": "disabled", "detail": {"configured": False}}
        snap = self.breaker.snapshot()
        try:
            outbox = await self.store.count_outbox()
        except Exception:  # health reports, it does not raise
            outbox = {}
        state = snap["state"]
        return {
            "status": "ok" if state == "closed" else "degraded",
            "detail": {"configured": True, "breaker": snap, "outbox": outbox, "posts": self.client.posts},
        }
