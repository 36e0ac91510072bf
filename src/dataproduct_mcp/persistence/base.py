"""The store interface services depend on; :class:`~dataproduct_mcp.persistence.store.SqlStore`
implements it once over SQLite or PostgreSQL.

Every method is scoped by tenant in the store itself: a record of another tenant is
simply not there. Stores raise :mod:`dataproduct_mcp.errors` classes, never driver errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dataproduct_mcp.domain.audit import AuditEvent
from dataproduct_mcp.domain.maintenance import JobClaim, JobState
from dataproduct_mcp.domain.products import DataProduct, ProductStatus
from dataproduct_mcp.domain.publication import EnqueueResult, OutboxRow, OutboxStatus
from dataproduct_mcp.domain.tasks import ClaimedTask, Task, TaskPage, TaskStatus

__all__ = [
    "ContractDocument",
    "JobStore",
    "OutboxStore",
    "ProductFilter",
    "ProductPage",
    "ProductRef",
    "ProductStore",
    "Store",
    "TaskStore",
]


@dataclass(frozen=True)
class ProductFilter:
    query: str | None = None
    tags: tuple[str, ...] = ()
    status: ProductStatus | None = None
    owner: str | None = None


@dataclass(frozen=True)
class ProductPage:
    items: list[DataProduct]
    positions: list[int]  # keyset position of each item (resume after any of them)
    total: int
    next_after: int | None  # keyset position for the next page, None when this is the last


@dataclass(frozen=True)
class ProductRef:
    """A product an id or ORD id names (no body: resolving many input ports stays cheap)."""

    id: str
    ord_id: str
    deleted: bool


@dataclass(frozen=True)
class ContractDocument:
    """A product's attached ODCS contract as stored: canonical JSON and its sha256."""

    sha256: str
    document: str


class ProductStore(Protocol):
    async def insert_product(self, product: DataProduct, content_hash: str, audit: AuditEvent | None = None) -> None:
        """Insert; ``AlreadyExists`` if a live product has the same (tenant, ord_id)."""

    async def get_product(self, tenant: str, product_id: str, *, include_deleted: bool = False) -> DataProduct:
        """``NotFound`` if absent (or deleted, unless asked) or of another tenant."""

    async def get_product_by_ord_id(self, tenant: str, ord_id: str) -> DataProduct:
        """The live product with this ORD id; ``NotFound`` otherwise."""

    async def find_live_identity(self, tenant: str, ord_id: str) -> tuple[DataProduct, str] | None:
        """The live product with this identity and its content hash, if any."""

    async def list_products(self, tenant: str, flt: ProductFilter, limit: int, after: int | None) -> ProductPage:
        """Live products matching ``flt`` in creation order, keyset-paged after position ``after``."""

    async def replace_product(
        self,
        product: DataProduct,
        expected_revision: int,
        content_hash: str,
        audit: AuditEvent | None = None,
        contract: ContractDocument | None = None,
    ) -> None:
        """Store ``product`` (revision already bumped) if the stored revision is ``expected_revision``;
        ``Conflict`` otherwise, ``NotFound`` if gone. With ``contract``, the product's attached
        contract document is replaced in the same unit of work."""

    async def get_contract(self, tenant: str, product_id: str) -> ContractDocument | None:
        """The contract document stored for the tenant's live product (None without one)."""

    async def find_refs(self, tenant: str, ids: Sequence[str], ord_ids: Sequence[str]) -> list[ProductRef]:
        """The tenant's products (live and deleted) having one of ``ids`` or one of ``ord_ids``."""

    async def get_products(self, tenant: str, ids: Sequence[str]) -> list[DataProduct]:
        """The tenant's live products with these ids, in creation order (absent ids are left out)."""

    async def list_consumers(self, tenant: str, refs: Sequence[str], limit: int) -> list[DataProduct]:
        """The tenant's live products with an input port keyed as one of ``refs`` (port_ref keys:
        pass a product's id and ord_id), through the ``product_inputs`` index: the first ``limit``
        in creation order."""

    async def list_deleted(self, tenant: str, since_iso: str) -> list[DataProduct]:
        """Products deleted at or after ``since_iso`` (for ORD tombstones)."""

    async def count_products(self, tenant: str | None = None) -> dict[str, int]:
        """Counts by status (all tenants when ``tenant`` is None)."""


class TaskStore(Protocol):
    """The durable task queue (contract §9). Calls made for a caller are scoped by tenant; the
    worker-side calls (claim, heartbeat, finish, ...) are guarded by the lease owner instead, so a
    task recovered by another worker is never finished twice. ``now`` defaults to the clock; tests
    pass it to move time. SQLite claims inside ``BEGIN IMMEDIATE``; PostgreSQL would use
    ``SELECT ... FOR UPDATE SKIP LOCKED``."""

    async def create_task(self, task: Task) -> None:
        """Insert a new (queued) task."""

    async def get_task(self, tenant: str, task_id: str) -> Task:
        """``NotFound`` if absent or of another tenant."""

    async def list_tasks(
        self, tenant: str, *, status: TaskStatus | None, kind: str | None, limit: int, before: int | None
    ) -> TaskPage:
        """The tenant's tasks, newest first, keyset-paged before position ``before``."""

    async def request_cancel(self, tenant: str, task_id: str, *, now: datetime | None = None) -> Task:
        """Queued → cancelled at once; running → ``cancel_requested``; finished: unchanged."""

    async def claim_task(
        self, owner: str, lease_seconds: float, kinds: Sequence[str], *, now: datetime | None = None
    ) -> ClaimedTask | None:
        """Atomically take the oldest claimable task of one of ``kinds`` (queued and due, or running
        with an expired lease): status running, lease to ``owner``, attempts + 1."""

    async def heartbeat(
        self, task_id: str, owner: str, lease_seconds: float, *, now: datetime | None = None
    ) -> bool | None:
        """Extend the lease if ``owner`` still holds it: whether cancellation was requested;
        None when the lease was lost."""

    async def update_progress(self, task_id: str, owner: str, progress: float, message: str | None) -> bool:
        """Record progress if ``owner`` still holds the lease; whether it did."""

    async def finish_task(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Finish (succeeded/failed/cancelled) only if ``owner`` still holds the lease; whether it did."""

    async def retry_task(
        self, task_id: str, owner: str, error: dict[str, Any], run_after: datetime, *, now: datetime | None = None
    ) -> bool:
        """Back to queued after a retryable failure, not claimable before ``run_after``."""

    async def release_tasks(
        self, owner: str, task_ids: Sequence[str] | None = None, *, now: datetime | None = None
    ) -> int:
        """Running tasks of ``owner`` (all, or these) back to queued, the attempt not counted."""

    async def expire_leases(self, owner: str, *, now: datetime | None = None) -> int:
        """End the leases of ``owner`` now (its process is known to be dead); recover_expired
        then re-queues its tasks, the attempt counted."""

    async def recover_expired(self, *, now: datetime | None = None) -> int:
        """Running tasks whose lease expired back to queued, counting a crash (cancelled if
        cancellation was requested, failed once ``max_crashes`` is reached)."""

    async def lease_owners(self) -> list[str]:
        """Distinct owners of running tasks (to recover those of dead local processes)."""

    async def prune_tasks(self, finished_before: datetime, *, batch: int = 1000) -> int:
        """Delete finished tasks finished before the given time; how many."""

    async def count_tasks(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        """{kind: {status: n}} (all tenants when ``tenant`` is None)."""


class AuditStore(Protocol):
    """Append-only audit events (no update method exists; pruning deletes by age)."""

    async def append_audit(self, event: AuditEvent) -> int: ...

    async def list_audit(
        self,
        tenant: str,
        *,
        product_id: str | None = None,
        kinds: tuple[str, ...] = (),
        since_iso: str | None = None,
        until_iso: str | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> tuple[list[AuditEvent], int | None]: ...

    async def prune_audit(self, before_iso: str) -> int: ...

    async def product_exists_in_other_tenant(self, tenant: str, product_id: str) -> bool: ...


class OutboxStore(Protocol):
    """The ORD publication outbox (contract §8): rows keyed by ``{product_id}:{revision}``, written
    with their ``publish-ord`` task in one transaction; worker-side updates only touch pending rows."""

    async def enqueue_publications(
        self,
        tenant: str,
        items: Sequence[tuple[str, int, str]],
        task: Task,
        *,
        retry_rejected: bool = False,
        now: datetime | None = None,
    ) -> EnqueueResult:
        """In one transaction: add a pending row per (product_id, revision, key) not yet known and
        insert ``task`` when it carries any row. Delivered keys are never queued again; a pending
        key with an active task joins it; rejected keys are retried only with ``retry_rejected``."""

    async def outbox_for_task(self, task_id: str) -> list[OutboxRow]:
        """The pending rows a publish task delivers, oldest first."""

    async def outbox_attempt(self, key: str, *, now: datetime | None = None) -> None:
        """Count one delivery attempt (before sending)."""

    async def outbox_error(self, key: str, error: str, *, now: datetime | None = None) -> None:
        """Record the last transient error of a pending row."""

    async def outbox_finish(
        self, key: str, status: OutboxStatus, *, error: str | None = None, now: datetime | None = None
    ) -> bool:
        """pending -> delivered | rejected; whether this call changed it."""

    async def adopt_orphaned_publications(
        self, make_task: Callable[[str], Task], *, now: datetime | None = None
    ) -> list[Task]:
        """Per tenant with pending rows whose task is finished or gone: a new task (made by
        ``make_task(tenant)``) that takes them over, in one transaction."""

    async def list_outbox(
        self, tenant: str, *, product_id: str | None = None, status: OutboxStatus | None = None, limit: int = 1000
    ) -> list[OutboxRow]: ...

    async def count_outbox(self, tenant: str | None = None) -> dict[str, int]:
        """{status: n} (all tenants when ``tenant`` is None)."""

    async def product_fingerprint(self, tenant: str) -> tuple[Any, ...]:
        """A cheap value that changes whenever any product of the tenant changes (ORD document cache)."""


class JobStore(Protocol):
    """Scheduled maintenance (docs/operations.md): one lease row per job so that several replicas
    run each job once per interval, and the backend-specific upkeep the jobs call."""

    async def claim_job(
        self,
        job: str,
        owner: str,
        *,
        interval_s: float,
        lease_s: float,
        make_task: Callable[[], Task],
        now: datetime | None = None,
    ) -> JobClaim:
        """In one transaction: record the outcome of a finished run not yet recorded; take or renew
        the job's lease unless another owner holds an unexpired one; if held and due (and the last
        run is finished), insert ``make_task()`` and move ``next_run_at`` one interval on."""

    async def finish_job_run(
        self, job: str, task_id: str, outcome: str, error: str | None = None, *, now: datetime | None = None
    ) -> bool:
        """Record the outcome of run ``task_id`` (once; ``failed`` counts a failure); whether it did."""

    async def release_jobs(self, owner: str) -> int:
        """Give up the leases of ``owner`` (at shutdown: another replica takes over at once)."""

    async def list_jobs(self) -> list[JobState]: ...

    async def product_tenants(self) -> list[str]:
        """Tenants with products, live or deleted (maintenance walks them one by one)."""

    async def prune_tombstones(self, deleted_before_iso: str) -> int:
        """Hard-delete products deleted before the given time (none with a pending publication)."""

    async def maintenance(self) -> dict[str, Any]:
        """Backend upkeep (SQLite: optimize, checkpoint, vacuum when worthwhile); what it did."""


class Store(ProductStore, AuditStore, TaskStore, OutboxStore, JobStore, Protocol):
    """Everything the application needs from its database."""

    backend: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot answer."""

    async def schema_version(self) -> int: ...

    async def server_secret(self, name: str) -> bytes:
        """The server's secret ``name`` (32 random bytes), made atomically on first use and stored:
        every replica on the database and every restart gets the same value."""
