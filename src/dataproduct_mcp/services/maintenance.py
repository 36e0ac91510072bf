"""The scheduled maintenance jobs, each run as a durable task of kind ``maintenance-<job>``.

- ``revalidate``: products whose files changed since their last validation (size and mtime
  first, then the sha256 when those differ) get one ``validate-product`` task under their own
  tenant; a product with a validation already queued or running is left alone, so a change is
  re-validated once. Products never validated are not touched.
- ``republish``: products the ORD registry already knows and whose revision is ahead of what it
  acknowledged (and tombstones of deleted ones) are queued for publication — only when a registry
  is configured. Products never published are not published by maintenance.
- ``prune``: finished tasks past DPMCP_TASK_RETENTION_DAYS, tombstones (deleted products) older
  than the ORD tombstone window (31 days + 1), audit events past DPMCP_AUDIT_RETENTION_DAYS.
- ``vacuum``: the store's upkeep (:meth:`Store.maintenance`).

Results are counts only: a run belongs to the deployment (DPMCP_TENANT), the work it spawns to
the products' tenants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.domain.tasks import TaskStatus
from dataproduct_mcp.domain.validation import FileValidation
from dataproduct_mcp.errors import DpError
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import ProductFilter, Store
from dataproduct_mcp.services.files import FileIdentity, PathPolicy
from dataproduct_mcp.services.ord import TOMBSTONE_DAYS
from dataproduct_mcp.services.tasks import TaskService

if TYPE_CHECKING:
    from dataproduct_mcp.services.audit import AuditLog
    from dataproduct_mcp.services.publication import PublicationService
    from dataproduct_mcp.services.task_runner import TaskContext

__all__ = ["JOBS", "MaintenanceJobs"]

log = get_logger(__name__)

JOBS = ("revalidate", "republish", "prune", "vacuum")
HASH_CACHE_ENTRIES = 10_000


class MaintenanceJobs:
    def __init__(
        self,
        store: Store,
        tasks: TaskService,
        policy: PathPolicy,
        *,
        publication: PublicationService | None = None,
        audit: AuditLog | None = None,
        task_retention_days: float = 7.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.policy = policy
        self.publication = publication
        self.audit = audit
        self.task_retention = timedelta(days=task_retention_days)
        self.clock = clock
        self._hashes: dict[tuple[str, int, int], str] = {}  # (real path, size, mtime_ns) -> sha256

    def handler(self, job: str) -> Callable[[TaskContext, dict[str, Any]], Any]:
        return {
            "revalidate": self.revalidate,
            "republish": self.republish,
            "prune": self.prune,
            "vacuum": self.vacuum,
        }[job]

    # -- revalidate ---------------------------------------------------------------------------

    async def revalidate(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        checked = submitted = already_pending = 0
        for tenant in await self.store.product_tenants():
            pending = await self._pending_validations(tenant)
            after: int | None = None
            while True:
                page = await self.store.list_products(tenant, ProductFilter(), 200, after)
                for product in page.items:
                    ctx.checkpoint()
                    if not product.last_validation or not product.files:
                        continue  # never validated: nothing to compare with
                    checked += 1
                    changed = await anyio.to_thread.run_sync(self.changed_files, product)
                    if not changed:
                        continue
                    if product.id in pending:
                        already_pending += 1
                        continue
                    task = await self.tasks.submit(tenant, "validate-product", {"product_id": product.id})
                    submitted += 1
                    log.info("files of product %s changed (%s); re-validating in task %s", product.id, changed, task.id)
                if page.next_after is None:
                    break
                after = page.next_after
        ctx.report(1.0, f"{submitted} product(s) re-validated of {checked} checked")
        return {"checked": checked, "submitted": submitted, "already_pending": already_pending}

    async def _pending_validations(self, tenant: str) -> set[str]:
        ids: set[str] = set()
        for status in (TaskStatus.queued, TaskStatus.running):
            before: int | None = None
            while True:
                page = await self.store.list_tasks(
                    tenant, status=status, kind="validate-product", limit=100, before=before
                )
                ids.update(str(t.params.get("product_id")) for t in page.items)
                if page.next_after is None:
                    break
                before = page.next_after
        return ids

    def changed_files(self, product: DataProduct) -> list[str]:
        """Paths of the product's files that differ from its last validation (blocking: stat, hash)."""
        last = product.last_validation
        recorded = {f.path: f for f in last.files} if last is not None else {}
        changed = []
        for ref in product.files:
            if self._file_changed(ref.path, recorded.get(ref.path)):
                changed.append(ref.path)
        return changed

    def _file_changed(self, path: str, rec: FileValidation | None) -> bool:
        if rec is None:
            return True  # added since the last validation
        if not self.policy.is_local_file(path):  # a dataset or object: total bytes and newest mtime
            try:
                return self.policy.state(path) != (rec.size, rec.mtime_ns)
            except DpError:
                return rec.size is not None or rec.sha256 is not None
        try:
            ident: FileIdentity | None = self.policy.identify(path)
        except DpError:
            ident = None
        if ident is None:
            return rec.size is not None or rec.sha256 is not None  # was readable, is not now
        if rec.size == ident.size and rec.mtime_ns == ident.mtime_ns:
            return False
        if rec.sha256 is None or (rec.size is not None and rec.size != ident.size):
            return True
        return self._sha256(ident) != rec.sha256  # touched, maybe not changed

    def _sha256(self, ident: FileIdentity) -> str | None:
        key = (str(ident.real_path), ident.size, ident.mtime_ns)
        if key not in self._hashes:
            if len(self._hashes) >= HASH_CACHE_ENTRIES:
                self._hashes.clear()
            digest = hashlib.sha256()
            try:
                with open(ident.real_path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
            except OSError:
                return None
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]

    # -- republish ----------------------------------------------------------------------------

    async def republish(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        publication = self.publication
        if publication is None or not publication.configured:
            return {"skipped": "no ORD registry is configured (DPMCP_ORD_REGISTRY_URL)"}
        queued = tasks = skipped = 0
        for tenant in await self.store.product_tenants():
            ctx.checkpoint()
            outcome = await publication.publish(tenant, republish=True)
            queued += len(outcome.enqueued.queued)
            tasks += int(outcome.enqueued.task_created)
            skipped += len(outcome.skipped)
            if outcome.skipped:
                log.warning("tenant %s: %d product(s) cannot be expressed in ORD", tenant, len(outcome.skipped))
        ctx.report(1.0, f"{queued} publication(s) queued")
        return {"queued": queued, "tasks": tasks, "not_expressible": skipped}

    # -- prune --------------------------------------------------------------------------------

    async def prune(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        tasks = await self.store.prune_tasks(now - self.task_retention)
        ctx.checkpoint()
        tombstones = await self.store.prune_tombstones((now - timedelta(days=TOMBSTONE_DAYS + 1)).isoformat())
        ctx.checkpoint()
        audit = await self.audit.prune() if self.audit is not None else 0
        log.info("pruned %d task(s), %d tombstone(s), %d audit event(s)", tasks, tombstones, audit)
        return {"tasks": tasks, "tombstones": tombstones, "audit_events": audit}

    # -- vacuum -------------------------------------------------------------------------------

    async def vacuum(self, ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.store.maintenance()
